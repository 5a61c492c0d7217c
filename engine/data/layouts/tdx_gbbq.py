"""TongDaXin's ex-rights table (股本变迁, ``T0002/hq_cache/gbbq``): deciphered all at once
with NumPy, written back (tests, datagen), and turned into the ``pre_close`` and forward
adjustment of ``.day`` bars (SPEC §1).

The file is a little-endian u32 record count, then 29-byte records whose first 24 bytes
are enciphered: three 8-byte blocks, each run through 16 rounds of a Blowfish-like
Feistel network with a fixed key schedule (``_KEY``). Every block of every record is
deciphered together, one NumPy operation per round step: a table of 100,000 records
takes tens of milliseconds, where a Python loop per record takes seconds.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.reader import digest_of
from engine.errors import DataError
from engine.rules.rulebook import half_up_cent

#: A deciphered record: market (0 SZ, 1 SH, 2 BJ), code (six ASCII digits, NUL-padded),
#: date ``YYYYMMDD``, category and four float32 whose meaning is the category's. For
#: category 1 (除权除息): cash per 10 shares, rights-issue price, bonus and transferred
#: shares per 10, rights shares per 10.
RECORD = np.dtype([("market", "u1"), ("code", "S7"), ("date", "<u4"), ("category", "u1"),
                   ("f1", "<f4"), ("f2", "<f4"), ("f3", "<f4"), ("f4", "<f4")])
#: The file's header: the number of records, a little-endian u32.
HEADER = 4
#: The enciphered bytes at the start of each record: three 8-byte blocks.
ENCIPHERED = 24
#: The category of the events that adjust prices (除权除息).
EX_RIGHTS = 1
MARKETS = ("SZ", "SH", "BJ")
#: Where an installation keeps the table, below the folder that holds ``vipdoc``.
INSTALLATION_PATH = ("T0002", "hq_cache", "gbbq")

# TongDaXin's fixed key schedule for gbbq: P[0..17] (18 u32), then four S-boxes of 256
# u32, little-endian (0x1048 bytes). These constants come from the TongDaXin client; they
# are the ones published with the first public decoders
# (blog.csdn.net/fangle6688/article/details/50956609, blog.sina.com.cn/s/
# blog_6b2f87db0102uxo3.html) and copied here from pytdx 1.72
# (``pytdx/reader/gbbq_reader.py``, ``hexdump_keys``, whose 8 trailing bytes are unused).
# This decoder gives what pytdx's reader gives on the same bytes (checked once; a test
# pins a small enciphered blob). pytdx itself is not a dependency.
_KEY = bytes.fromhex(
    "38a7c21de06a17e2d139a2409cba46af42c6ff0574eadabb89b4f844ac89d7f2987fb6bce4f76b7505045867"
    "79c86dc62b06968cfb86068bbfd6e8e187496b36c71802795325727213cc040b90240cdcdb031ad52e04855c"
    "7e8ebd02262dbd061b5034991ba22404f28835c889ead5fb1224bbb53b29ca14a604cea9a85802b9aae397a3"
    "a62257bbada0225feb058611c3edb13f39c236d14a43c8644db06e3a7c516df78ec6dff38ea41e749db22205"
    "4d073f967f97f963b9c42b9875f6d68456dc15d3528b60f3d60ea9ad0707e9028658c2329c90bcc919bfb054"
    "7af8cca827638229eefb9811bf352962919395fcf4f008e4b23ab45eb3b02e3e20c1d743597dc6295f69747f"
    "b277e10efa85a1c9777383b3cb1c60dbe95369fcb31859150f978a7ac883f549dc1b3e86c1954546e216677f"
    "1235a0bb27fbccf8307e4fc86dab18b20d01cc7920807bfa37aa149e85e825e9d42d354e8fd3deb0068d1515"
    "5265e8390328090267993d13baf3685c4c89b0e36bae165c8825f8330319025b297b2a412d7549489bb3b6b3"
    "bfaadf8c95fe0f13b87b02bb52e11c34c39b8759e246cc22774bd7c42c31aa847c445188151accae409d1f44"
    "97299845607447a10da573f053ff01f9f49af13607d02da0792d812325ad4b9cc8bc12554dd4bb95b1b9be7d"
    "a6e6a053ba838cdd7ee94bedba2842d8ff986935ca4e9c9d57d6cfa0895ca2e754d2af4cfb54c4b44fc3baf8"
    "a2586919790ea80e3dc804fd2632c8e1028ba71cc39125e5d849dbdf195f16f5a78b182304d4bffb44c4617c"
    "796ec89015b5eb5087ca7a69472fafa8b5a28a84c44179e8de0cacd0d56f34c6cba776f900244205267e7b14"
    "86597bdb1c62d5b73ef71744274bd2c66fffc84955ad65522d43c2339b63ab3d545428e20265039a034b8f64"
    "1a9252de32d62bf0bebe1d54b17c70419b9055da715521b9b66890195fbcaab4550ee6814ca3bebc64d75900"
    "59bd0f6a571aa6a0d51a0a80d30906735a51e2dd2966aca08629212b7a6d9e3a68d0a3dca72b85a04cd4f0c5"
    "c443e4cf0c198130b6f6be71f5ac25aacf429006641b4529fd3aa3b60b9d299ffa31b86dd8ec43f5927e3522"
    "e0c3d309066171dae8360a19f62381cb89e0676efeb1e64772635c2518e0b46585efb51b26239089cceee301"
    "779563dfc4acbfe637149915498a960291aa1d9821575e8796c7b587083f58065258178faba84ea17a60b169"
    "5e9cbee2d0c51259df31ebd2195496e210118e68b41a2dd32fab12f7fef3a7f761fcf77ccbfc878c6a104029"
    "7b30d60d134c71cd5eab36a2f14c05ed5388e5ff8e71795db5afd3676dc4446babc1a7aa38d8701e08e6d236"
    "7b881196dbd268d9ffd8502b3aa9cc451acacdd205c6fca0350cee982b5cb2396a27128f97eccb7bb6c027f6"
    "a74875098298ca3a5de3960ca5d2b36ca4d11fae9967b03dd69a7a3e008bfd4532f79f287c9403db64aa4480"
    "d227afb373875731eb08d9ba734d2c7703bff50f473c22da3fb9f19a1b228316eef418fc08e83b301c0450aa"
    "4ce32853abdef85f32d9e1787bf1c5a8ca85b69f891f40b82c88d7c1663445d646fd7bf372a3325523cfb5b0"
    "79aba0f1005cdbee3f51aaaec0898e47a5304e4bddd6aed86d401c4e8efb0c608d541e2f17b73aeddedc81f5"
    "7285b7a639316f47508443c511f36a268eba7f819831fd136b83c911614864fae3f5392c1211c16d4d0313a6"
    "c2e0dff5328e5b35a77f08f785270d719db8ce9c1eba773af6a1a7269429c0201065756eefaa320c66913a4e"
    "0e74e28afeb6f817c7a7e4d835672ef083a89fa6281340a396dc498355e185abbd4ded88fa3669a977595a9c"
    "d0a0b13deb3116dc3e297b39015bd4ff5ce59edaf755d53fe33b5176838e40aee12ee83ef808b7b0242691ad"
    "824c2e2f377a34a105bd8c9a75525ccd5980cb92f8b1f8a5f22c9f4a59bfef76a3744fe1c97c7f91d90d1205"
    "b28ed0e0bb46d45c442f656d7a1c0286fb7e7db62a57b9db80cd02bfe79e3521fbbe2813829ff074f79255de"
    "f27bf2f27df5a0140f994d25f4dc11177a776577ccbeef9088e8fdb24e8ef526fe535d65a974470bcbe9e871"
    "9595876cfd8694a7e5fc20001e0a0ae3851724d4d0738a111e1eef83e3d7e1bfcc98076d70373a8f3117554e"
    "60a8c8ab4f082d3776e62b58dd810fd16e9aa6553d8082999e2d169adf4ecb3b5ddaa85308c7ff54ddc61131"
    "1ab6eba303084afbb445ecc07c0dc6cfcb1b7846888ff46a15622f1712e6416476589678db29b56aaede6341"
    "6fbe9b376cc9d0ec1bf679179efe790eb18228f20615c2be969ce08180d700db95874bc00d91555b1f862264"
    "74ea1b8985d2ddf79ff1d9090664fa6d5972efce66a703d199e8dfaed7635f605fab6ec522c83a946a3b0072"
    "f8db90e705dca2890f83aa03fe42141c8ae61c9edbd8d0ca97216caded0ae0a29eecc1ffd1b48a9aadab340b"
    "133fb5188d859e0df9fbac212edd7adebf9f7ebdbf84dff5fd1ebee11f0ff8189d73090229b75b267e447504"
    "4db1aa2f3adb463812d14135912906dfc998699202f24812a971d2ae3b236d1ce26b8b75874a13a71f814d29"
    "65530a3a34ce6de6318d7e4edd256e7644823c47364cb9c49bf44f84431156c294537eb02e36daeb775fc164"
    "e2ca9fbe29d8063653d06f8219dabc8c5f4d45e721379e90a6d433a8644decbc905efe8e8bca177cffac96bb"
    "21cf3d24713bc2a1746885cf328e7f6339c5e78ea5e0cd3af59ab8fd43d44339088e45765fdfe917545912ed"
    "d0e93d6f3f02148a0a479ad1e7fa4ea1410050ef609d4dc1ca879840e7b20f76c09d71efd74693c12b9f11b8"
    "f905aceda7726bf5119b3e0a04217d06d746767badae9d95a6476805adf5387cc7a55acab2cb4818c1f26255"
    "9836390880c528b106e4fb46113c38a14f1cfea181b7fcdb94b07afeb574f1bb92aaffb0fe1e318bc6bcf04f"
    "1afe91c57a9c73094a329051018b12c020ca3ccb1483d3c77c5a1279ee561a36c409e23edce8cef1c1a19e99"
    "da644fcf1ed62b7027863ecfbe751c399bf95363c16b58cc71d2074188bb147096f168ce1375fef4a0c885a2"
    "671849560d07941d7461890c32499d0d94734aab1ae90fe0bab64a34f9331db371c2b864d70bcb19f7bde069"
    "3e2496b1c428095f58ae8ac0839919644d443755a69ba1425084b81829b52191582388eb8f134a2409ec0f6d"
    "7daf3efcf7f39f343915c48403bb7e67395f2a2c6794f4a6b5023f4556790c2a9b257767c23bccf2713b4f83"
    "2a8d8c530d184954ca580ebe8b3a5374fc6f4728078ec1f553d3344b0805ffe91429401b57ad77ece8dada35"
    "55a77803564c7cb2ed3bb5616591df41b45dc9b79b13824115d7b36e1cc815b4f0f33f914ba1c8907891395a"
    "2155da6ae12cbac93869f6aea82b8cb714c1358235a0784756c09aa77f74146485f1b748bc558c6aa4951ccb"
    "f352f9546115275643d02795e335aa39dc2338daef1f27653aabf7ccbb25db00363496d1f7c4ec4437427e17"
    "1867c89c9a5b39085c3cf492f1163188fa12449e79271cc20b46accd1f39b89f9a56340a8586c2b1b19b31ce"
    "4757053ea7ae3f3e012dc5b9c1cbbaab0a2ad271e4ecf80a7185cca1ca6eef9d8722385d8081f71a6c317b82"
    "86bd7f109d89b6f7afe4410d4f97288034063e193a2160ed5418020f2fd5d53ba5870121381ba6993228e98d"
    "6f02356085bd64c4b0267e68d1e697b5326eb24feb064c4dc2978e6b3022c0b43d47937867ac2742dd5c3c27"
    "ed0a6ce44a0d0fdf5263a6707609f02e58f605b2dfeec91fcb1d110ca18b1926b8102c8148ff98ef30360c01"
    "c54ad9ac057289c73fd64de017babab3d3e81b0c8cc8df6bfe7eba91fdf6a0cb5919b0012fd70ba0620f5fce"
    "74b8eb4289b5becac9efda9abbc6661be065eed43aced9cc0ebb8550414501ba1b29116f34115503dd0cb599"
    "563a934d4d956dcec351e015543eff2fa3da59ec3d592d62fc6439d67bc880781dd7fde80b5d8aed1a9d98cb"
    "c2ee784730ad8f64a5821223dab33eca4c857a80d59f4620d6eed1f933fa1fc59c8ef91e6651a54668dcb77f"
    "a85adee618d78c2b5deaa8ec6b8b48c1925ac1b16a5e3782224b6ab6f040168916a581f8d41b20268635e5ad"
    "c1016ec9b5d069c50b3108515d35fc74f513047af45710535ba4cc8b218282154b8c3d6bda9185cbd6cf0580"
    "d0f0cf0ddf7ab499c7f8d54c765630e965b65860c1c0398a4254bc4a488ba1d95c32057a1cbb50515b7fc775"
    "2d6855e6837bc398fde6d5b8daa8310178f5608b1ad2fd513447faaf23aee2de15a7076669359a4061552598"
    "23542a50c97da6ce74f8190c8e63e5492ff91705fd391555f4b091bf60b7b2402e7ad36886c0fc3888abb903"
    "8a04051a9f61aef2d3b8a429f85143cf84264a906e1327af7b52dbf900e8aec0b56f64035720597cf5e165a8"
    "47c3bdee722a85e2708dea9d98d42ad570a2e976a2dae67cb0f714d923b688c0b36f4212f4690c1581d6f70b"
    "b71bdf15e675631353b32043799034e3344880d686bb45a285ddf823643bd568ab995334c6250a8773173756"
    "39ba8c0e39244bccaa98840c2f27e6e2ac86345d1e25aefd1eff3c27ad26184a1ae509615d835f2cdc41a7c6"
    "07555bb50b71fe86e730a1bc27af5f24511add20f6329e3d646fdc43652a80cb95c4b6f0e1f3cf6cf2c29cea"
    "81880c2dd2da7482c6a51e98d3bc71ede20b05dabb0efa350a2cd5c862e7b1af95146c837df1ce9f136bd868"
    "c9a5f5872ea58fd75cb2c69937315aa4d0e243dfc8bebd10c0d8226395461ee78ca861e474026cb430f30615"
    "11e62a3a0d3b2fb93bb383401879fb3938b7ce4dbaf69eaae18f321cb168dd5c2c376561733dc63456cdeabc"
    "776aa17d6af1f978af0fd9c2aad3d7a82da86ebc198396b5a33eb3b25c54ad77ce1de5d5aab30d367a327d5c"
    "a360668d84a0bd4f0fa90989b8ec148a2b2b748e75775a8eb251d026d6068c9aca31d69417f014d7431c820c"
    "0083e675055c52ab0c388fa3357752e83e3bcb4881e325b1a94012764f16f1ce3dd7238944d73f247eb74666"
    "c1167a17b22a99f1ac3cc99dc5fe89bebf2c68bc2ca7f1c52f261eccd1af7daa7dc5944a4dc487972d2b6a5e"
    "5ebf398218ab8cb9dc8083a1d180d265fe2ecc6af10284b2366037244e5e57ada5c5501a5ea45c31b6936057"
    "acebed653fbfeac708ca130093e5e679f63720cab46e399e834f158b15cde78c9093b085919bae21ef03d0a4"
    "b62ab4c6d307049254728eec2eb3476cce42067fe05b96f2488bfa8f83e24710a5b730f868b0fd02746f4871"
    "d7f12edfa15261769947be0a2ff8f2699dad03fae684a7cf357d8f5fc5a69b216635bc58d589b5e09f11f0a8"
    "8a1fc83c24b2b7f16c8adb3b397acad0ef15612272fdfc023dbd76359ee1c6d72cb259e103e0ff7a8703799f"
    "61abcc4998c241cf6e9baa529bd008b59e23f6c1398277165dd4e1b3ada00c58f8e267006a0b4bd26ce1c56b"
    "9dba3f4082c528b8c1607585eec4fa04ed6264b62910674b9bd66c0e06626483caf02f2db8f60ad7d76a1c58"
    "14be1860802902cdf6b195a56d2e279c08e31fc5c2077f637fdb82c6c685aca6d24cf17fdb1dcf86205660c0"
    "24e0c0420b4e005f8b7860feeaec6d31934970eb2a454f929b6c1728bb89fcc00784ccad1b85f285185c3d5a"
    "6054af039d9ee426d386aa0b7ca3329cc20f3ad43e1f5243a831e970fc0cb47cf5e3c76f11ed224c0c1b82cb"
    "72a495281ad41be5c46ed7f1ecbf252cb89287a8d215793439c0be0dc8682df2d38e01093c4894326989d5c0"
    "5de82ce6a697594b9ac661b09edb81dcd3f947348400ca87be5d6d56f301023b"
)
_P = np.frombuffer(_KEY, "<u4", 18).astype(np.uint32)
_S = np.frombuffer(_KEY, "<u4", 4 * 256, 18 * 4).astype(np.uint32).reshape(4, 256)


def _mix(half: np.ndarray) -> np.ndarray:
    """The round function of one half-block: ``((S0[a] + S1[b]) ^ S2[c]) + S3[d]`` of its
    bytes ``a`` (highest) to ``d`` (lowest), modulo 2**32."""
    out = _S[0][half >> 24]
    out += _S[1][(half >> 16) & 0xFF]
    out ^= _S[2][(half >> 8) & 0xFF]
    out += _S[3][half & 0xFF]
    return out


def _rounds(left: np.ndarray, right: np.ndarray, order: range
            ) -> tuple[np.ndarray, np.ndarray]:
    """The Feistel rounds with the P entries ``order`` over every block at once."""
    for j in order:
        left, right = right ^ _mix(left) ^ _P[j], left
    return left, right


def _blocks(rows: np.ndarray) -> np.ndarray:
    """The enciphered part of (n, 29) record bytes as (3n, 2) little-endian u32 halves."""
    return np.ascontiguousarray(rows[:, :ENCIPHERED]).view("<u4").reshape(-1, 2)


def _put_blocks(rows: np.ndarray, first: np.ndarray, second: np.ndarray) -> None:
    """Write (3n,) halves back into the first 24 bytes of (n, 29) record bytes."""
    halves = np.empty((first.size, 2), dtype="<u4")
    halves[:, 0], halves[:, 1] = first, second
    rows[:, :ENCIPHERED] = halves.view(np.uint8).reshape(rows.shape[0], ENCIPHERED)


def table_error(path: Path, problem: str) -> DataError:
    """The one-line error of an ex-rights table that cannot be used."""
    return DataError(f"ex-rights table {path}: {problem}; let TongDaXin download its data "
                     "again (盘后数据下载), or give another table with --tdx-gbbq / tdx_gbbq",
                     file=path, field="tdx_gbbq", rule="bad ex-rights table")


def decipher(data: bytes, path: Path) -> np.ndarray:
    """The records (``RECORD``) of a gbbq file's bytes, deciphered; a DataError naming
    ``path`` when the file is not the count of records its header announces."""
    if len(data) < HEADER:
        raise table_error(path, f"{len(data)} bytes, not even the 4-byte record count")
    count = int.from_bytes(data[:HEADER], "little")
    expected = HEADER + count * RECORD.itemsize
    if len(data) != expected:
        raise table_error(path, f"{len(data):,} bytes, where its header's {count:,} "
                          f"{RECORD.itemsize}-byte records take {expected:,} (the file is "
                          "truncated or not a gbbq table)")
    rows = np.frombuffer(data, np.uint8, count * RECORD.itemsize, HEADER).reshape(
        count, RECORD.itemsize).copy()
    blocks = _blocks(rows)
    left, right = _rounds(blocks[:, 0] ^ _P[17], blocks[:, 1], range(16, 0, -1))
    _put_blocks(rows, right ^ _P[0], left)
    return rows.view(RECORD).reshape(count)


def encipher(records: np.ndarray) -> bytes:
    """The bytes of a gbbq file holding ``records`` (``RECORD``): ``decipher``'s inverse,
    for tests and ``engine.datagen`` to build installations."""
    records = np.ascontiguousarray(records, dtype=RECORD)
    rows = records.view(np.uint8).reshape(records.size, RECORD.itemsize).copy()
    blocks = _blocks(rows)
    left, right = _rounds(blocks[:, 0] ^ _P[0], blocks[:, 1], range(1, 17))
    _put_blocks(rows, right ^ _P[17], left)
    return np.uint32(records.size).astype("<u4").tobytes() + rows.tobytes()


def stock_key(code: str) -> int:
    """A canonical code (``600000.SH``) as the number a table's events are matched by:
    market (``MARKETS``) * 10**6 + the six digits."""
    return MARKETS.index(code[7:]) * 1_000_000 + int(code[:6])


@dataclass(frozen=True)
class ExRightsTable:
    """The category-1 events (除权除息) of an ex-rights table, in file order: each one's
    stock as ``stock_key``, ex-date ``YYYYMMDD`` and f1-f4 (the float32 values as they
    are, in float64: cash per 10 shares, rights-issue price, bonus and transferred shares
    per 10, rights shares per 10), and its deciphered record (what a stock's digest
    covers)."""

    path: Path
    keys: np.ndarray
    dates: np.ndarray
    cash: np.ndarray
    price: np.ndarray
    bonus: np.ndarray
    rights: np.ndarray
    records: np.ndarray


def read_table(path: Path) -> ExRightsTable:
    """Read and decipher a gbbq file and keep its events that adjust prices (category 1,
    a known market, a six-digit code); errors name the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise table_error(path, f"cannot be read ({exc.strerror or exc})") from exc
    return events_of(decipher(data, path), path)


def events_of(records: np.ndarray, path: Path) -> ExRightsTable:
    """The ``ExRightsTable`` of deciphered records."""
    raw = np.ascontiguousarray(records, dtype=RECORD).view(np.uint8).reshape(
        records.size, RECORD.itemsize)
    digits = raw[:, 1:7].astype(np.int64) - ord("0")
    numbers = digits @ (10 ** np.arange(5, -1, -1, dtype=np.int64))
    keep = ((records["category"] == EX_RIGHTS) & (records["market"] < len(MARKETS))
            & ((digits >= 0) & (digits <= 9)).all(axis=1) & (raw[:, 7] == 0))
    events = records[keep]
    f1, f2, f3, f4 = (events[name].astype(np.float64) for name in ("f1", "f2", "f3", "f4"))
    return ExRightsTable(path, events["market"].astype(np.int64) * 1_000_000 + numbers[keep],
                         events["date"].astype(np.uint32), f1, f2, f3, f4, events)


def find_table(folder: Path) -> Path | None:
    """The ex-rights table of the TongDaXin installation a data folder belongs to:
    ``T0002/hq_cache/gbbq`` beside ``vipdoc`` (the folder holding it, or the folder's
    parent when the folder is ``vipdoc`` itself), names matched in any case; None when
    there is none."""
    roots = [folder] if _child(folder, "vipdoc") is not None else [folder.parent]
    for root in roots:
        found: Path | None = root
        for name in INSTALLATION_PATH:
            found = _child(found, name) if found is not None else None
        if found is not None and found.is_file():
            return found
    return None


def _child(folder: Path, name: str) -> Path | None:
    """``folder / name``, or the entry whose name is ``name`` in another case (an
    installation copied from Windows); None when neither exists."""
    exact = folder / name
    if os.path.lexists(exact):
        return exact
    try:
        with os.scandir(folder) as entries:
            return next((folder / e.name for e in entries if e.name.lower() == name.lower()),
                        None)
    except OSError:
        return None


@dataclass(frozen=True)
class ExRightsColumns:
    """What a table gives the records of the stocks read (SPEC §1), over those records:
    ``pre_close`` on each bar an event reaches (NaN elsewhere), ``adj_factor`` (the
    product of the factors of the stock's events after the record: forward adjustment
    divides by its last bar's, which is 1 when no event follows it), ``adjusted`` per
    stock (an event reached one of its bars), ``digests`` of each adjusted stock's events
    (its bars' identity changes with them), and ``failed``: stock -> the ex-date
    ``YYYYMMDD`` of an event that gives no positive ex-rights price (a damaged table)."""

    pre_close: np.ndarray
    adj_factor: np.ndarray
    adjusted: np.ndarray
    digests: dict[int, str]
    failed: dict[int, int]


def apply_table(table: ExRightsTable, stocks: Sequence[str], starts: np.ndarray,
                dates: np.ndarray, close: np.ndarray, traded: np.ndarray) -> ExRightsColumns:
    """Apply ``table`` to the records of ``stocks`` (stock ``k``'s are ``starts[k]`` to
    ``starts[k + 1]``): ``dates`` ``YYYYMMDD``, ``close`` in yuan, ``traded`` where a
    record is a bar (volume > 0).

    For each category-1 event with ex-date t, C is the stock's last close before t and
    the stock's first bar on or after t gets ``pre_close = half_up_cent((C - f1/10 +
    f2*f4/10) / (1 + f3/10 + f4/10))``; the event's factor is ``pre_close / C``. Events
    before the first bar or after the last change nothing; events that reach one bar
    apply in date order, each on the one before's ``pre_close`` (SPEC §1). All stocks'
    events at once: each event's bar is found by a binary search in its stock's bars,
    all events in step, so only the columns made cost passes over the records.
    """
    n_stocks = len(stocks)
    pre_close = np.full(dates.size, np.nan)
    out = ExRightsColumns(pre_close, np.ones(dates.size), np.zeros(n_stocks, dtype=bool), {},
                          {})
    events, ev_stock = _events_of_stocks(table, stocks)
    if events.size == 0:
        return out
    rows, bounds = _bars_in_order(starts, dates, traded)
    bar_dates = dates if rows is None else dates[rows]
    # Each event's bar: the first on or after its ex-date, with a bar before it.
    low, high = bounds[ev_stock], bounds[ev_stock + 1]
    at = _first_not_before(bar_dates, low, high, table.dates[events])
    on = (at > low) & (at < high)
    events, ev_stock, at = events[on], ev_stock[on], at[on]
    if events.size == 0:
        return out
    close_before = close[at - 1 if rows is None else rows[at - 1]]
    prices = _ex_rights_prices(table, events, at, close_before)
    # One group per bar reached: its last event's price is the bar's pre_close.
    first = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
    stops = np.r_[first[1:], at.size]
    bad = np.logical_or.reduceat(~(np.isfinite(prices) & (prices > 0)), first)
    for g in np.flatnonzero(bad).tolist():
        out.failed.setdefault(int(ev_stock[first[g]]), int(table.dates[events[first[g]]]))
    good = ~bad & ~np.isin(ev_stock[first], list(out.failed))
    if not good.any():
        return out
    reference = prices[stops - 1][good]
    factor = reference / close_before[first][good]
    bar, stock = at[first][good], ev_stock[first][good]
    pre_close[bar if rows is None else rows[bar]] = reference
    factors = _bar_factors(bounds, bar, stock, _later_products(factor, stock))
    if rows is None:
        out = dataclasses.replace(out, adj_factor=factors)
    else:
        out.adj_factor[rows] = factors
    kept = np.repeat(good, stops - first)
    _record_stocks(out, table.records[events[kept]], ev_stock[kept])
    return out


def _bars_in_order(starts: np.ndarray, dates: np.ndarray, traded: np.ndarray
                   ) -> tuple[np.ndarray | None, np.ndarray]:
    """The records that are bars, in stock and date order: their indices (None: every
    record, in its place, as a TongDaXin file holds them) and where each stock's bars
    start among them (``bounds[k]`` to ``bounds[k + 1]``)."""
    rows = None if traded.all() else np.flatnonzero(traded)
    bounds = starts if rows is None else np.searchsorted(rows, starts)
    bar_dates = dates if rows is None else dates[rows]
    unordered = bar_dates[1:] <= bar_dates[:-1]
    inner = bounds[1:-1]
    unordered[inner[(inner > 0) & (inner < bar_dates.size)] - 1] = False  # across stocks
    if unordered.any():  # a file out of date order (validation sorts it, or fails a
        stock = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))  # repeated date)
        order = np.lexsort((bar_dates, stock))
        rows = order if rows is None else rows[order]
    return rows, bounds


def _first_not_before(values: np.ndarray, low: np.ndarray, high: np.ndarray,
                      targets: np.ndarray) -> np.ndarray:
    """For each target, the first place in ``low`` to ``high`` (its own range, ascending
    values) whose value is not below it, ``high`` when none: a binary search of every
    range at once, a dozen steps for ranges of thousands."""
    low, high = low.copy(), high.copy()
    while True:
        active = np.flatnonzero(low < high)
        if active.size == 0:
            return low
        middle = (low[active] + high[active]) // 2
        below = values[middle] < targets[active]
        low[active[below]] = middle[below] + 1
        high[active[~below]] = middle[~below]


def _events_of_stocks(table: ExRightsTable, stocks: Sequence[str]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The table's events of ``stocks`` (their indices into the table), ordered by stock,
    ex-date and file order, and each one's stock (its index in ``stocks``)."""
    keys = np.array([stock_key(code) for code in stocks], dtype=np.int64)
    by_key = np.argsort(keys)
    sorted_keys = keys[by_key]
    if sorted_keys.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    found = np.minimum(np.searchsorted(sorted_keys, table.keys), sorted_keys.size - 1)
    events = np.flatnonzero(sorted_keys[found] == table.keys)
    stock = by_key[found[events]].astype(np.int64)
    order = np.lexsort((events, table.dates[events], stock))
    return events[order], stock[order]


def _ex_rights_prices(table: ExRightsTable, events: np.ndarray, at: np.ndarray,
                      close_before: np.ndarray) -> np.ndarray:
    """Each event's ex-rights price, SPEC §1's formula in its order of operations; the
    first event reaching a bar starts from the close before it, each later one from the
    one before's price (a few passes: a bar is rarely reached by more than two)."""
    cash, price, bonus, rights = (values[events] for values in (
        table.cash, table.price, table.bonus, table.rights))
    first = np.r_[True, at[1:] != at[:-1]]
    rank = np.arange(at.size) - np.maximum.accumulate(np.where(first, np.arange(at.size), 0))
    out = np.empty(at.size)
    for r in range(int(rank.max()) + 1):
        k = np.flatnonzero(rank == r)
        base = close_before[k] if r == 0 else out[k - 1]
        out[k] = half_up_cent((base - cash[k] / 10 + price[k] * rights[k] / 10)
                              / (1 + bonus[k] / 10 + rights[k] / 10))
    return out


def _later_products(factor: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """For each ex-rights bar (sorted by stock and date), the product of its own factor
    and those of the stock's later ones, multiplied from the last back."""
    later = factor.copy()
    same_next = np.r_[stock[1:] == stock[:-1], False]
    # Steps to the stock's last ex-rights bar, one pass per step.
    ends = np.flatnonzero(~same_next)
    to_end = np.repeat(ends, np.diff(np.r_[-1, ends])) - np.arange(stock.size)
    for r in range(1, int(to_end.max(initial=0)) + 1):
        k = np.flatnonzero(to_end == r)
        later[k] = factor[k] * later[k + 1]
    return later


def _bar_factors(bounds: np.ndarray, bar: np.ndarray, stock: np.ndarray,
                 later: np.ndarray) -> np.ndarray:
    """Every bar's ``adj_factor`` (the product of the factors of its stock's events after
    it), in bar order: constant from a stock's first bar to its first ex-rights bar and
    between two, 1 from its last, so one value per stretch, repeated (``bounds``: where
    each stock's bars start; ``bar``: the ex-rights bars, sorted)."""
    stretches = np.union1d(bounds[:-1], bar)
    owner = np.searchsorted(bounds, stretches, side="right") - 1
    following = np.searchsorted(bar, stretches, side="right")
    inside = following < bar.size
    inside[inside] = stock[following[inside]] == owner[inside]
    values = np.where(inside, later[np.minimum(following, bar.size - 1)], 1.0)
    return np.repeat(values, np.diff(np.r_[stretches, bounds[-1]]))


def _record_stocks(out: ExRightsColumns, records: np.ndarray, stock: np.ndarray) -> None:
    """Mark the stocks that events adjusted and digest each one's events."""
    if stock.size == 0:
        return
    firsts = np.flatnonzero(np.r_[True, stock[1:] != stock[:-1]])
    out.adjusted[stock[firsts]] = True
    raw = np.ascontiguousarray(records).view(np.uint8)
    width = RECORD.itemsize
    for k, lo, hi in zip(stock[firsts].tolist(), firsts.tolist(),
                         np.r_[firsts[1:], stock.size].tolist(), strict=True):
        out.digests[k] = digest_of(raw[lo * width:hi * width].tobytes())
