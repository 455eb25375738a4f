"""The maintenance console: a window over the simulator's control API (it never touches a device).

Staff pick a persona and present their ID card, social-security card, community card
or code; set the temperature; take the paper out; unplug a device or inject a fault;
and see the printer's last ticket.  Every call runs off the GUI thread and its answer
(or the simulator's refusal, in words) shows in the message line.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ui.background import run_in_background
from ui.qt import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QImage,
    QLabel,
    QMainWindow,
    QPixmap,
    QPushButton,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)

REFRESH_MS = 1500  # how often the device list is refreshed, in milliseconds
CALL_TIMEOUT_S = 10.0  # per control API call, in seconds

STYLE = """
QWidget { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; font-size: 14pt; color: #111111; }
QMainWindow, QWidget#console { background: #F4F4F4; }
QGroupBox { font-weight: bold; border: 1px solid #888888; border-radius: 6px; margin-top: 14px; padding: 8px; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; }
QPushButton { background: #0B3D91; color: #FFFFFF; border-radius: 6px; padding: 8px 14px; min-height: 36px; }
QPushButton:pressed { background: #062A66; }
QLabel#devices { font-family: "DejaVu Sans Mono", monospace; font-size: 12pt; background: #FFFFFF; padding: 8px; }
QLabel#message { background: #FFFFFF; border: 1px solid #888888; padding: 6px; }
"""


def persona_label(p: dict[str, Any]) -> str:
    """A persona's line in the picker: id, name, age, code colour and groups."""
    groups = [w for w, key in (("退役军人", "veteran"), ("优抚", "special_care"), ("残疾", "disabled"),
                               ("独居", "lives_alone")) if p.get(key)]
    colour = {"green": "绿码", "yellow": "黄码", "red": "红码"}.get(p["code_colour"], p["code_colour"])
    return f"{p['id']} {p['name']} {p['age']}岁 {colour}" + (f" ({'、'.join(groups)})" if groups else "")


class SimConsole(QMainWindow):
    """The simulator's maintenance console."""

    def __init__(self, control_url: str):
        super().__init__()
        self.url = control_url.rstrip("/")
        self.last_status: dict[str, Any] | None = None
        self.setWindowTitle(f"Linfen 硬件模拟器 · 维护控制台 · {self.url}")
        self.setStyleSheet(STYLE)
        self._build()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)
        self.refresh()
        self._load_personas()

    def _load_personas(self) -> None:
        def fill(people: list[dict[str, Any]]) -> None:
            for p in people:
                self.persona_box.addItem(persona_label(p), p["id"])

        run_in_background(lambda: httpx.get(self.url + "/personas", timeout=CALL_TIMEOUT_S).json(), fill,
                          lambda exc: self.message.setText(f"连接失败 Cannot reach simulator: {exc}"))

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        root = QWidget(objectName="console")
        grid = QGridLayout(root)

        people = QGroupBox("居民 Persona")
        pl = QVBoxLayout(people)
        self.persona_box = QComboBox()
        pl.addWidget(self.persona_box)
        row = QHBoxLayout()
        for text, device in (("刷身份证", "idcard"), ("刷社保卡", "sscard"), ("刷一卡通", "ccard")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, d=device: self.call("POST", "/present",
                                                                    {"device": d, "persona": self.persona()}))
            row.addWidget(b)
        pl.addLayout(row)
        row = QHBoxLayout()
        for text, device in (("出示随申码", "qr_camera"), ("扫码枪扫码", "qr_scanner")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, d=device: self.call("POST", "/show-qr",
                                                                    {"persona": self.persona(), "device": d}))
            row.addWidget(b)
        pl.addLayout(row)
        row = QHBoxLayout()
        for text, device in (("取走身份证", "idcard"), ("取走社保卡", "sscard"), ("取走一卡通", "ccard"),
                             ("撤下二维码", "qr_camera")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, d=device: self.call("POST", "/remove", {"device": d}))
            row.addWidget(b)
        pl.addLayout(row)
        grid.addWidget(people, 0, 0)

        env = QGroupBox("体温与打印纸 Temperature and paper")
        el = QHBoxLayout(env)
        self.temp_box = QDoubleSpinBox()
        self.temp_box.setRange(30.0, 45.0)
        self.temp_box.setDecimals(1)
        self.temp_box.setSingleStep(0.1)
        self.temp_box.setValue(36.6)
        self.temp_box.setSuffix(" °C")
        set_temp = QPushButton("设置体温")
        set_temp.clicked.connect(lambda: self.call("POST", "/temperature", {"celsius": self.temp_box.value()}))
        el.addWidget(self.temp_box)
        el.addWidget(set_temp)
        for text, state in (("纸正常", "ok"), ("纸将尽", "near_end"), ("缺纸", "out")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, s=state: self.call("POST", "/paper", {"state": s}))
            el.addWidget(b)
        grid.addWidget(env, 1, 0)

        faults = QGroupBox("故障与插拔 Faults and cables")
        fl = QHBoxLayout(faults)
        self.device_box = QComboBox()
        self.device_box.currentIndexChanged.connect(self._fill_fault_kinds)
        self.fault_box = QComboBox()
        fl.addWidget(self.device_box)
        fl.addWidget(self.fault_box)
        for text, action in (("注入故障", "fault"), ("清除故障", "clear"), ("拔出", "unplug"), ("插入", "plug")):
            b = QPushButton(text)
            b.clicked.connect(lambda _=False, a=action: self._device_action(a))
            fl.addWidget(b)
        grid.addWidget(faults, 2, 0)

        self.devices_label = QLabel(objectName="devices")
        self.devices_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.devices_label.setMinimumWidth(640)
        devices = QGroupBox("设备状态 Devices")
        dl = QVBoxLayout(devices)
        dl.addWidget(self.devices_label)
        grid.addWidget(devices, 3, 0)

        printer = QGroupBox("打印机输出 Printer output")
        prl = QVBoxLayout(printer)
        self.ticket_label = QLabel("尚未打印 Nothing printed yet")
        self.ticket_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ticket_label.setMinimumWidth(380)
        prl.addWidget(self.ticket_label, 1)
        grid.addWidget(printer, 0, 1, 4, 1)

        self.message = QLabel("就绪 Ready", objectName="message")
        self.message.setWordWrap(True)
        grid.addWidget(self.message, 4, 0, 1, 2)
        self.setCentralWidget(root)

    # -- actions --------------------------------------------------------------------------
    def persona(self) -> str:
        """The picked persona's id."""
        return self.persona_box.currentData()

    def _device_action(self, action: str) -> None:
        device = self.device_box.currentText()
        if not device:
            return
        if action == "fault":
            self.call("POST", "/fault", {"device": device, "kind": self.fault_box.currentText()})
        elif action == "clear":
            self.call("POST", "/clear", {"device": device})
        else:
            self.call("POST", f"/{action}", {"device": device})

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> None:
        """Send one command off the GUI thread; show the answer or the refusal in words."""
        url = self.url + path

        def work() -> tuple[int, Any]:
            r = httpx.request(method, url, json=body, timeout=CALL_TIMEOUT_S)
            return r.status_code, r.json()

        def done(result: tuple[int, Any]) -> None:
            code, answer = result
            if code >= 400:
                self.message.setText(f"模拟器拒绝 Refused: {answer.get('detail')}")
            else:
                self.message.setText(f"完成 Done: {path} {json.dumps(body, ensure_ascii=False) if body else ''}")
            self.refresh()

        run_in_background(work, done, lambda exc: self.message.setText(f"连接失败 Cannot reach simulator: {exc}"))

    def refresh(self) -> None:
        """Fetch the simulator's status and the last printed ticket."""
        def work() -> tuple[dict[str, Any], bytes | None]:
            status = httpx.get(self.url + "/status", timeout=CALL_TIMEOUT_S).json()
            r = httpx.get(self.url + "/printer/last.png", timeout=CALL_TIMEOUT_S)
            return status, (r.content if r.status_code == 200 else None)

        run_in_background(work, self._show, lambda exc: self.devices_label.setText(f"模拟器无响应 No answer: {exc}"))

    def _show(self, result: tuple[dict[str, Any], bytes | None]) -> None:
        status, png = result
        first = self.last_status is None
        self.last_status = status
        devices = status.get("devices", {})
        if first or self.device_box.count() != len(devices):
            self.device_box.clear()
            self.device_box.addItems(list(devices))
        lines = [f"计时 timing: {status.get('timing')}"]
        for name, st in devices.items():
            state = "已插入 plugged" if st.get("plugged", True) else "已拔出 UNPLUGGED"
            extra = []
            for key in ("card", "persona", "payload", "celsius", "paper", "tickets", "locks"):
                if st.get(key) not in (None, "", []):
                    extra.append(f"{key}={st[key]}")
            faults = ",".join(st.get("faults", [])) or "-"
            lines.append(f"{name:12s} {state:16s} faults={faults:14s} {' '.join(extra)}"[:110])
        self.devices_label.setText("\n".join(lines))
        if png:
            image = QImage.fromData(png)
            if not image.isNull():
                self.ticket_label.setPixmap(QPixmap.fromImage(image).scaledToWidth(360))

    def _fill_fault_kinds(self) -> None:
        if not self.last_status:
            return
        device = self.device_box.currentText()
        kinds = self.last_status.get("devices", {}).get(device, {}).get("fault_kinds", [])
        self.fault_box.clear()
        self.fault_box.addItems(kinds)


def run_console(control_url: str) -> int:
    """Open the console window and run until it is closed."""
    from ui.app import application

    app = application()
    console = SimConsole(control_url)
    console.resize(1280, 800)
    console.show()
    return app.exec()
