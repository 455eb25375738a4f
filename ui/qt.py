"""The one module that imports Qt: the rest of ``ui/`` imports Qt names from here.

Keeping Qt behind one door (Anki's ``aqt.qt``) makes the import rule of DESIGN §2
checkable and a Qt binding change a one-file edit.
"""

from PySide6.QtCore import (
    QObject,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
    qInstallMessageHandler,
)
from PySide6.QtGui import QColor, QFont, QFontDatabase, QGuiApplication, QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

__all__ = [
    "QApplication",
    "QComboBox",
    "QDoubleSpinBox",
    "QGroupBox",
    "QPixmap",
    "QColor",
    "QFont",
    "QFontDatabase",
    "QFrame",
    "QGridLayout",
    "QGuiApplication",
    "QHBoxLayout",
    "QImage",
    "QLabel",
    "QMainWindow",
    "QObject",
    "QPalette",
    "QPushButton",
    "QRunnable",
    "QSize",
    "QSizePolicy",
    "QStackedWidget",
    "QThreadPool",
    "QTimer",
    "QVBoxLayout",
    "QWidget",
    "Qt",
    "Signal",
    "Slot",
    "qInstallMessageHandler",
]
