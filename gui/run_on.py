"""Where a sweep runs: this machine or a Dask cluster at an address, remembered between
sessions; a bad address or a missing Dask install is explained inline."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit

from engine.errors import ClusterError
from engine.execution import cluster
from gui.plot_style import GUIDE_COLOR, error_label

THIS_MACHINE = "this machine"
A_CLUSTER = "a Dask cluster at"
CHOICE_KEY, ADDRESS_KEY = "sweep/run_on", "sweep/cluster_address"
DEFAULT_ADDRESS = "local:2"


class RunOnBox(QGroupBox):
    """"Run on": this machine or a Dask cluster (``tcp://host:8786`` or ``local:N``).

    ``cluster()`` is the address to pass to ``run_sweep`` (None: this machine);
    ``problem()`` says why the choice cannot run ("" when it can). ``changed`` fires on
    every edit. With ``settings`` the choice is restored and saved as it changes.
    """

    changed = Signal()

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__("Run on")
        self.settings = settings
        form = QFormLayout(self)
        self.choice = QComboBox()
        self.choice.addItems([THIS_MACHINE, A_CLUSTER])
        self.address = QLineEdit(DEFAULT_ADDRESS, clearButtonEnabled=True)
        self.address.setPlaceholderText("tcp://scheduler:8786 or local:4")
        self.error = error_label()
        self.error.hide()
        hint = QLabel("local:N starts N worker processes here; a scheduler's address "
                      "runs on its workers (see docs/scaling.md)", wordWrap=True)
        hint.setStyleSheet(f"color: {GUIDE_COLOR};")
        form.addRow(self.choice)
        form.addRow("address", self.address)
        form.addRow(self.error)
        form.addRow(hint)
        self._restore()
        self.choice.currentTextChanged.connect(self._edited)
        self.address.textChanged.connect(self._edited)
        self._edited()

    def _restore(self) -> None:
        if self.settings is None:
            return
        choice = str(self.settings.value(CHOICE_KEY, THIS_MACHINE))
        self.choice.setCurrentText(choice if choice in (THIS_MACHINE, A_CLUSTER)
                                   else THIS_MACHINE)
        self.address.setText(str(self.settings.value(ADDRESS_KEY, DEFAULT_ADDRESS)))

    def _edited(self) -> None:
        self.address.setEnabled(self.choice.currentText() == A_CLUSTER)
        if self.settings is not None:
            self.settings.setValue(CHOICE_KEY, self.choice.currentText())
            self.settings.setValue(ADDRESS_KEY, self.address.text())
        problem = self.problem()
        self.error.setText(problem)
        self.error.setVisible(bool(problem))
        self.changed.emit()

    def set_cluster(self, address: str | None) -> None:
        """Choose a cluster at ``address``, or this machine (None), as a user would."""
        if address is not None:
            self.address.setText(address)
        self.choice.setCurrentText(THIS_MACHINE if address is None else A_CLUSTER)

    def cluster(self) -> str | None:
        """The cluster address to run on, None for this machine; raises ``ClusterError``."""
        if self.choice.currentText() == THIS_MACHINE:
            return None
        address = cluster.parse_address(self.address.text())
        if not cluster.available():
            raise ClusterError(f"Dask is not installed; {cluster.INSTALL_HINT}",
                               address=address)
        return address

    def problem(self) -> str:
        """Why the chosen place cannot run a sweep ("" when it can)."""
        try:
            self.cluster()
        except ClusterError as exc:
            return str(exc)
        return ""
