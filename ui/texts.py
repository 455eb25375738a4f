"""Every word the screens show, Chinese first and English available (DESIGN §8)."""

from __future__ import annotations

from kiosk.runtime.health import DEVICE_NAMES, REASON_WORDS

ROLE_TITLES: dict[str, tuple[str, str]] = {
    "hall": ("临汾路街道 社区事务受理服务中心", "Linfen Road Community Service Hall"),
    "counter": ("窗口工作台", "Counter console"),
    "display": ("叫号信息", "Calling display"),
    "selfservice": ("24小时自助服务区", "24-hour self-service area"),
    "canteen": ("社区长者食堂", "Community canteen"),
    "cinema": ("社区电影放映", "Community film screenings"),
}

# The idle screen's main message (>= 30 pt) and a second line (>= 18 pt).
IDLE_PROMPTS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "hall": (
        ("请选择您要办理的业务", "Please choose the service you need"),
        ("选好后，请刷身份证、社保卡，或出示随申码", "Then swipe your ID card or social-security card, or show your code"),
    ),
    "counter": (
        ("请登录：刷工作证", "Please log in with your staff card"),
        ("登录后可叫号、重呼、过号、转移", "After logging in you can call, recall, skip and transfer"),
    ),
    "display": (
        ("请留意叫号", "Please listen for your number"),
        ("叫到您的号码时，请到对应窗口办理", "When your number is called, go to the window shown"),
    ),
    "selfservice": (
        ("请刷身份证 / 社保卡，\n或出示随申码", "Please swipe your ID card or social-security card,\nor show your Suishenma code"),
        ("可取件、自助办理、预约场地、留言", "Collect documents, self-service, book a room, leave a message"),
    ),
    "canteen": (
        ("请刷一卡通付款", "Please tap your community card to pay"),
        ("长者按年龄享受助餐补贴", "Older residents get a meal subsidy by age"),
    ),
    "cinema": (
        ("请刷一卡通领取电影票", "Please tap your community card\nfor a film ticket"),
        ("每场电影每人限领一张", "One ticket per person per screening"),
    ),
}

# Device names and device states are the supervisor's (kiosk/runtime/health.py), so the strip, doctor
# and the heartbeat say the same thing; the network links are named here.
COMPONENT_NAMES: dict[str, tuple[str, str]] = {
    **DEVICE_NAMES,
    "central": ("网络", "Network"),
    "hall": ("大厅叫号服务", "Hall queue service"),
}

STATE_WORDS: dict[str, tuple[str, str]] = {
    "ok": ("正常", "working"),
    "checking": ("检查中", "checking"),
    "not found": ("未连接", "not connected"),
    "no answer": ("无响应", "no answer"),
    "not reachable": ("离线", "offline"),
    "no permission": ("无权限", "no permission"),
    "pcsc service not running": ("读卡服务未运行", "card service not running"),
    "offline": ("离线，数据已保存待上传", "offline, data kept for upload"),
    "auth refused": ("中心拒绝登录，请联系管理员", "central refused this terminal"),
    "starting": ("连接中", "connecting"),
    **{reason: (zh, en) for reason, (zh, en, _up) in REASON_WORDS.items() if reason not in ("ok", "checking")},
}
DOWN_WORD = ("故障", "fault")

BUTTONS: dict[str, tuple[str, str]] = {
    "language": ("English", "中文"),
    "volume_down": ("－", "－"),  # the label between the buttons says 音量 / Volume in words
    "volume_up": ("＋", "＋"),
    "staff_close": ("关闭设备状态", "Close device status"),
}
MAINTENANCE_LINE = ("设备维护中，部分功能请找工作人员", "Some equipment is under maintenance; staff can help")
VOLUME_LABEL = ("音量\n{volume}%", "Volume\n{volume}%")
VOICE_OFF_LABEL = ("语音已关闭", "Voice off")


def pick(pair: tuple[str, str], language: str) -> str:
    """Choose the Chinese or English text of a pair."""
    return pair[0] if language == "zh" else pair[1]


def state_word(reason: str, up: bool, language: str) -> str:
    """The word for a component's state: 正常 / 未连接 / 离线 …; never colour alone."""
    if up:
        return pick(STATE_WORDS["ok"], language)
    return pick(STATE_WORDS.get(reason, DOWN_WORD), language)

# The canteen reader's own words (buttons and headings); what it speaks is in kiosk.prompts.
CANTEEN_WORDS: dict[str, tuple[str, str]] = {
    "choose_first": ("请先选择套餐", "Please choose a set meal first"),
    "no_meals": ("本机还没有今天的套餐，请找工作人员", "Today's set meals have not reached this reader; please ask staff"),
    "card_held": ("已读到您的一卡通，选好套餐后马上付款", "Your card has been read; choose a meal and it is paid"),
    "price": ("{yuan} 元", "{yuan} yuan"),
    "you_chose": ("您选择了：{items}", "You chose: {items}"),
    "put_card": ("请把一卡通放在\n屏幕下方的读卡区", "Please put your community card\non the reader below the screen"),
    "where": ("读卡区在屏幕下方，放好后停一秒", "The card reader is below the screen; hold the card there a second"),
    "choose_again": ("重新选择", "Choose again"),
    "paying": ("正在付款，请不要拿开卡", "Paying now: please keep the card on the reader"),
    "paid": ("付款成功", "Paid"),
    "paid_amount": ("实付 {yuan}", "Paid {yuan}"),
    "balance": ("余额 {yuan}", "Balance {yuan}"),
    "receipt": ("打印小票", "Print receipt"),
    "done": ("完成", "Done"),
    "not_paid": ("没有付款", "Not paid"),
    "ask_staff": ("请找工作人员", "Please ask staff"),
    "ok": ("我知道了", "OK"),
    "low_mark": ("⚠ ", "⚠ "),
    # cashier mode
    "clerk_pane": ("点菜（收银员）", "Dishes (cashier)"),
    "basket_empty": ("还没有点菜", "Nothing ordered yet"),
    "total": ("合计 {yuan}", "Total {yuan}"),
    "tap_card": ("请刷一卡通", "Please tap your community card"),
    "clear": ("清空", "Clear"),
    "less": ("减一份", "One less"),
    # staff view: the clerk's recent payments and voids
    "staff_heading": ("今日本机付款（最近 {n} 笔）", "Today's payments at this reader (last {n})"),
    "no_payments": ("今天本机还没有付款", "No payments at this reader today"),
    "void": ("撤销", "Void"),
    "voided": ("已撤销", "Voided"),
    "void_which": ("撤销这笔付款：{what}", "Void this payment: {what}"),
    "void_reason": ("请选原因：", "Choose the reason:"),
    "reason_returned": ("顾客退餐", "Meal returned"),
    "reason_wrong_dish": ("点错菜", "Wrong dish"),
    "reason_duplicate": ("重复付款", "Paid twice"),
    "reason_other": ("其他", "Other"),
    "staff_no": ("请输入您的工号", "Enter your staff number"),
    "confirm_void": ("确认撤销", "Confirm void"),
    "back": ("返回", "Back"),
    "loading": ("正在读取…", "Loading…"),
    "void_ok": ("已撤销，退回卡里 {yuan}", "Voided: {yuan} back on the card"),
    "void_failed": ("没有撤销：{why}", "Not voided: {why}"),
}
#: Why a void was refused (kiosk.canteen.payments codes), in words.
VOID_CODES: dict[str, tuple[str, str]] = {
    "no_reason": ("没有选原因", "no reason chosen"),
    "no_staff": ("没有输入工号", "no staff number"),
    "unknown_entry": ("本机没有这笔付款", "no such payment at this reader"),
    "already_voided": ("这笔已经撤销过了", "it was already voided"),
    "too_late": ("已超过可撤销的时间，请到服务中心处理", "too late to void here; the service centre can help"),
}


# The counter's community-card top-up (ui/counter_topup.py): the clerk's pages, the confirmation, the result.
COUNTER_TOPUP_WORDS: dict[str, tuple[str, str]] = {
    "topup": ("充值", "Top up"),
    "heading": ("一卡通充值", "Community card top-up"),
    "card_prompt": ("请居民在读卡器上刷一卡通", "Ask the resident to tap the card"),
    "card_line": ("{name} · 卡号 {card_no}", "{name} · card {card_no}"),
    "card_state": ("状态：{status} · 余额：{balance}", "Status: {status} · balance: {balance}"),
    "balance_unknown": ("暂无", "not known yet"),
    "looking_up": ("正在查询卡号 {card_no}…", "Looking up card {card_no}…"),
    "amount_caption": ("充值金额（元）：点按金额，或用右边数字键输入", "Amount (yuan): tap one, or type it on the keypad"),
    "preset": ("{yuan} 元", "{yuan} yuan"),
    "other_amount": ("其他金额", "Amount"),
    "method_caption": ("充值方式", "Paid by"),
    "cash": ("现金", "Cash"),
    "transfer": ("转账", "Transfer"),
    "type_card": ("输入卡号", "Card no."),
    "back": ("返回工作台", "Back to console"),
    "next": ("下一步：核对", "Next: check"),
    "need_card": ("请先刷居民的一卡通，或输入卡号", "Tap the resident's card or type its number first"),
    "need_amount": ("请选择或输入充值金额（1 至 1000 元）", "Choose or type an amount (1 to 1000 yuan)"),
    "need_method": ("请选择充值方式：现金或转账", "Choose how it is paid: cash or transfer"),
    "card_heading": ("输入卡号", "Type the card number"),
    "card_hint": ("卡号印在卡背面：8 位，由数字和 A–F 组成", "The number is on the back: 8 characters, digits and A–F"),
    "card_entry_hint": ("卡号", "Card number"),
    "look_up": ("查询", "Look up"),
    "cancel": ("取消", "Cancel"),
    "bad_card_no": ("卡号应为 8、14 或 20 位（数字和 A–F）", "A card number has 8, 14 or 20 characters (digits, A–F)"),
    "confirm_heading": ("请与居民核对", "Check with the resident"),
    "confirm_card": ("为 {name}（卡号 {card_no}）充值", "Top up {name}'s card ({card_no})"),
    "confirm_amount": ("{yuan} 元", "{yuan} yuan"),
    "confirm_words": ("大写：人民币{words}", "In words: {words}"),
    "confirm_method": ("方式：{method} · 经办：{clerk}（工号 {staff}）", "Paid by {method} · clerk {clerk} (staff {staff})"),
    "confirm": ("确认充值", "Confirm top-up"),
    "retry": ("重新提交", "Send again"),
    "edit": ("返回修改", "Change"),
    "sending": ("正在充值…", "Topping up…"),
    "done_heading": ("已为 {name} 充值 {yuan} 元", "Topped up {yuan} yuan for {name}"),
    "done_detail": ("{method} · 卡号 {card_no} · 余额 {balance}", "{method} · card {card_no} · balance {balance}"),
    "done_repeat": ("（这笔充值此前已记录，未重复充值）", "(this top-up was already recorded: not credited twice)"),
    "done_ref": ("流水号 {ref}", "Reference {ref}"),
    "another": ("再充一张卡", "Another card"),
    "down_lookup": ("大厅服务无法连接，查不到这张卡。请稍后再刷卡", "The hall service cannot be reached: the card was not "
                    "looked up. Tap it again in a moment"),
    "down_topup": ("大厅服务无法连接：不确定是否已充值。请按「重新提交」，同一笔不会重复充值",
                   "The hall service cannot be reached: the top-up may or may not be done. Press “Send again”: "
                   "it is never credited twice"),
    "busy": ("正在处理，请稍候", "Working on it, please wait"),
    "confirm_first": ("请先确认或返回修改，再刷下一张卡", "Confirm or change this top-up before the next card"),
    "error": ("出现故障：{words}", "Something went wrong: {words}"),
}
# A community card's status as the clerk reads it (docs/community-card.md §2, and the deny list).
CARD_STATUS_WORDS: dict[str, tuple[str, str]] = {
    "active": ("正常", "active"), "lost": ("已挂失", "reported lost"), "blocked": ("已冻结", "blocked"),
    "cancelled": ("已注销", "cancelled"), "denied": ("禁用名单", "on the deny list")}
