"""What the terminals say and show for each prompt key, in Chinese and English.

The flow names a prompt by key (``Say("refused_fever")``); the voice speaks this text
and the screen shows the same words, so no state is told by colour alone.
"""

from __future__ import annotations

from typing import Any

PROMPTS: dict[str, tuple[str, str]] = {
    "choose_service": ("请选择您要办理的业务", "Please choose the service you need"),
    "choose_first": ("请先在屏幕上选择您要办理的业务，选好后马上为您办理",
                     "Please first choose your service on the screen; we go on as soon as you do"),
    "service_chosen": ("您选择了{service_zh}", "You chose {service_en}"),
    "service_closed": ("{service_zh}{opens_zh}，请选择其他业务或稍后再来",
                       "{service_en}: {opens_en}. Please choose another service or come back later"),
    "present_card": ("您选择了{service_zh}。请在屏幕下方的读卡器上刷身份证或社保卡，或把随申码对准扫码口",
                     "You chose {service_en}. Please put your ID card or social-security card on the reader "
                     "below the screen, or hold your code to the scanner"),
    "idle": ("请刷身份证、社保卡，或出示随申码", "Please swipe your ID card or social-security card, or show your code"),
    "measuring": ("正在测量体温，请稍候", "Measuring your temperature, please wait"),
    "retest": ("体温偏高，请再测一次", "Your temperature is high, please measure again"),
    "thermometer_failed": ("体温没有测到，稍后由工作人员为您测量", "Your temperature could not be taken; staff will take it"),
    "printing": ("正在打印号票，请稍候", "Printing your ticket, please wait"),
    "ticket": ("您的号码是 {number}，前面还有 {people_ahead} 人，请取走号票",
               "Your number is {number}, {people_ahead} people ahead. Please take your ticket"),
    "ticket_priority": ("您的号是优先号", "Yours is a priority ticket"),
    "ticket_staff_check": ("请先到服务台，由工作人员为您核验", "Please see the front desk first; staff will check you in"),
    "ticket_not_printed": ("号票没有打印出来。请记下您的号码 {number}，记好后请点“我记下了”，工作人员马上过来",
                           "Your ticket could not be printed. Please note your number {number} and press 'I have "
                           "noted it'; staff are coming"),
    "reprint_offer": ("您已取过号 {number}，需要补打吗？", "You already have number {number}. Print it again?"),
    "timeout_warning": ("本页 {seconds} 秒后返回首页。需要更多时间请点“继续”",
                        "This screen closes in {seconds} seconds. Press 'More time' to stay"),
    "help_called": ("已通知工作人员，请在原地稍候", "Staff have been told. Please wait here"),
    "queue_refused": ("{words_zh}", "{words_en}"),
    "refused_fever": ("体温 {celsius:.1f}°C 偏高，暂不能取号。请到门口服务台，工作人员会帮您",
                      "Your temperature is {celsius:.1f} °C, too high for a ticket. Please go to the front desk; "
                      "staff will help you"),
    "refused_code_yellow": ("您的随申码为黄码，暂不能取号。请到门口服务台由工作人员协助",
                            "Your code is yellow, so no ticket now. Please go to the front desk for help"),
    "refused_code_red": ("您的随申码为红码，暂不能取号。请在原地稍候，工作人员马上过来",
                         "Your code is red, so no ticket now. Please wait here; staff are coming"),
    "refused_code_unknown": ("暂时无法查询随申码状态，请到门口服务台",
                             "Your code status cannot be checked now. Please go to the front desk"),
    "refused_cap": ("今天该业务的号已取完，请明天再来或咨询服务台",
                    "Today's tickets for this service are all taken. Please come tomorrow or ask at the desk"),
    "refused_hours": ("现在不是该业务的取号时间", "Tickets for this service are not issued at this time"),
    "ask_staff": ("暂时没有办成，请找工作人员帮忙，工作人员已经收到通知",
                  "That did not work. Please ask a member of staff; they have been told"),
    "read_failed": ("读卡没有成功，请重新刷卡；如仍不行请找工作人员",
                    "The card could not be read. Please try again, or ask a member of staff"),
    "error_token_expired": ("随申码已过期，请在手机上刷新后再出示", "Your code has expired. Refresh it on your phone"),
    "error_token_forged": ("二维码无法验证，请出示随申码原件或刷身份证",
                           "This code cannot be verified. Show your own code, or swipe your ID card"),
    "error_token_unknown_key": ("二维码无法验证，请刷身份证", "This code cannot be verified. Please swipe your ID card"),
    "error_token_malformed": ("这不是随申码，请出示随申码或刷身份证",
                              "This is not a health code. Show your code or swipe your ID card"),
    "error_token_not_yet_valid": ("随申码时间不对，请刷身份证", "Your code's time is wrong. Please swipe your ID card"),
    # -- canteen (community card) ----------------------------------------------------------
    "canteen_choose_meal": ("请选择套餐，然后刷一卡通", "Please choose a set meal, then tap your community card"),
    "canteen_choose_first": ("请先在屏幕上选择套餐，选好后马上为您付款",
                             "Please first choose a set meal on the screen; we take payment as soon as you do"),
    "canteen_meal_chosen": ("您选择了{items_zh}", "You chose {items_en}"),
    "canteen_present": ("{items_zh}，{yuan} 元。请把一卡通放在屏幕下方的读卡区",
                        "{items_en}: {yuan} yuan. Please put your community card on the reader below the screen"),
    "canteen_paid": ("付款成功，付了 {yuan} 元。{lines_zh}。卡里还有 {balance} 元",
                     "Paid {yuan} yuan. {lines_en}. {balance} yuan left on the card"),
    "canteen_already_paid": ("这份已经付过款了，没有重复扣款", "This meal is already paid; you were not charged again"),
    "canteen_low_balance": ("卡里只剩 {balance} 元了，请到服务中心充值",
                            "Only {balance} yuan left on the card; please top up at the service centre"),
    "canteen_wait_clerk": ("请等收银员点好菜，再刷卡", "Please wait until the cashier has entered your meal, then tap"),
    "canteen_insufficient": ("卡里的钱不够，还差 {short} 元。请到服务中心充值，或找工作人员",
                             "Not enough money on the card: {short} yuan short. Please top up, or ask staff"),
    "canteen_over_tap_limit": ("现在联不上网，一次最多付 {limit} 元。请找工作人员",
                               "The network is down: at most {limit} yuan per payment now. Please ask staff"),
    "canteen_over_day_limit": ("现在联不上网，这张卡今天在本机最多还能付 {limit} 元。请找工作人员",
                               "The network is down: this card can pay at most {limit} more yuan here today. "
                               "Please ask staff"),
    "canteen_too_many_offline": ("现在联不上网，这张卡已经连续离线付了好几次，请找工作人员",
                                 "The network is down and this card has paid offline several times; please ask staff"),
    "canteen_no_balance": ("这张卡的余额还没有到本机，暂时不能付款，请找工作人员",
                           "This card's balance has not reached this reader yet; please ask staff"),
    "canteen_no_policy": ("本机还没有收到今天的价格和补贴规则，暂时不能付款。请找工作人员",
                          "This reader has not received today's prices and subsidy rules; please ask staff"),
    "canteen_unknown_card": ("这张卡不是本社区的一卡通，请找工作人员",
                             "This is not a community card of this district; please ask staff"),
    "canteen_lost": ("这张卡已经挂失，不能付款。工作人员马上过来",
                     "This card is reported lost and cannot pay. Staff are coming"),
    "canteen_blocked": ("这张卡已停用，请到服务中心咨询", "This card is blocked; please ask at the service centre"),
    "canteen_cancelled": ("这张卡已注销，请到服务中心咨询", "This card is cancelled; please ask at the service centre"),
    "canteen_denied": ("这张卡暂停使用，请到服务中心咨询", "This card is suspended; please ask at the service centre"),
    "canteen_not_genuine": ("这张卡无法验证，不能付款。工作人员马上过来",
                            "This card could not be verified and cannot pay. Staff are coming"),
    "canteen_read_failed": ("没有读到卡，请把卡放在读卡区，停一秒再拿开",
                            "The card was not read. Put it on the reader, hold it for a second, then take it away"),
    "canteen_receipt_failed": ("小票没有打印出来，付款已经成功", "The receipt could not be printed; the payment went through"),
    # -- cinema (community card) -----------------------------------------------------------
    "cinema_choose": ("请选择要看的电影场次，然后刷一卡通", "Please choose a screening, then tap your community card"),
    "cinema_choose_first": ("请先在屏幕上选择要看的场次，再刷一卡通",
                            "Please first choose a screening on the screen, then tap your card"),
    "cinema_present": ("《{title_zh}》，{when_zh}，{hall}，{price_zh}。请把一卡通放在屏幕下方的读卡区",
                       "{title_en}, {when_en}, {hall_en}, {price_en}. Please put your community card on the reader "
                       "below the screen"),
    "cinema_ticket": ("出票成功。《{title_zh}》，{when_zh}，{hall}，座位 {seat_zh}。{paid_zh}请取走电影票",
                      "Here is your ticket: {title_en}, {when_en}, {hall_en}, {seat_en}. {paid_en}Please take your ticket"),
    "cinema_ticket_again": ("您的座位是 {seat_zh}，请取走电影票", "Your seat is {seat_en}. Please take your ticket"),
    "cinema_aisle": ("给您安排了靠走道的座位，进出方便", "We gave you an aisle seat, easy to get in and out"),
    "cinema_low_balance": ("卡里只剩 {balance} 元了，请到服务中心充值",
                           "Only {balance} yuan left on the card; please top up at the service centre"),
    "cinema_ticket_not_printed": ("电影票没有打印出来。入场时刷一卡通就可以，工作人员已经收到通知",
                                  "The ticket could not be printed. Tap your card at the door instead; staff have "
                                  "been told"),
    "cinema_reprinting": ("正在补打您的电影票，请取走。还是同一张票，只能入场一次",
                          "Printing your ticket again; please take it. It is the same ticket: one entry"),
    "cinema_already": ("这一场您已经领过票了，座位是 {seat_zh}。一张卡一场只能领一张票。票丢了可以点“补打这张票”",
                       "You already have a ticket for this screening: {seat_en}. One ticket per card per "
                       "screening. Lost it? Press 'Print it again'"),
    "cinema_full": ("《{title_zh}》{when_zh}这一场已经满座了", "{title_en} {when_en} is full"),
    "cinema_full_next": ("下一场是{next_when_zh}的《{next_title_zh}》，在{next_hall}，还有 {next_seats_left} 个座位。"
                         "要看这一场，请点“选这一场”",
                         "The next one is {next_title_en}, {next_when_en}, {next_hall_en}, {next_seats_left} seats "
                         "left. Press 'Choose this one' to take it"),
    "cinema_full_none": ("这几天的场次都满了，请留意服务中心的放映通知",
                         "All screenings of the coming days are full; watch the service centre's notices"),
    "cinema_closed": ("这一场已经开始了，不能再领票，请选择其他场次",
                      "This screening has started; no more tickets. Please choose another one"),
    "cinema_insufficient": ("卡里的钱不够，还差 {short} 元。请到服务中心充值，或找工作人员",
                            "Not enough money on the card: {short} yuan short. Top up at the service centre, or "
                            "ask staff"),
    "cinema_over_tap_limit": ("现在联不上网，一次最多付 {limit} 元。请找工作人员",
                              "We are offline: at most {limit} yuan per payment now. Please ask staff"),
    "cinema_over_day_limit": ("现在联不上网，这张卡今天在本机最多还能付 {limit} 元。请找工作人员",
                              "We are offline: this card can pay at most {limit} yuan more here today. Please ask "
                              "staff"),
    "cinema_too_many_offline": ("现在联不上网，这张卡已经连续离线付了好几次，请找工作人员",
                                "We are offline and this card has paid offline several times. Please ask staff"),
    "cinema_no_balance": ("这张卡的余额还没有到本机，暂时不能付款，请找工作人员",
                          "This card's balance has not reached this terminal yet. Please ask staff"),
    "cinema_unknown_card": ("这张卡不是本社区的一卡通，不能领票，请找工作人员",
                            "This is not a community card of this district. Please ask staff"),
    "cinema_lost": ("这张卡已经挂失，不能领票。工作人员马上过来", "This card is reported lost. Staff are coming"),
    "cinema_blocked": ("这张卡已停用，请到服务中心咨询", "This card is blocked; please ask at the service centre"),
    "cinema_cancelled": ("这张卡已注销，请到服务中心咨询", "This card is cancelled; please ask at the service centre"),
    "cinema_denied": ("这张卡暂停使用，请到服务中心咨询", "This card is suspended; please ask at the service centre"),
    "cinema_not_genuine": ("这张卡无法验证，不能使用。工作人员马上过来",
                           "This card could not be verified and cannot be used. Staff are coming"),
    "cinema_read_failed": ("没有读到卡，请把卡放在读卡区，停一秒再拿开",
                           "The card was not read. Put it on the reader, hold it for a second, then take it away"),
    "cinema_entry": ("检票：请刷一卡通，或把电影票上的二维码对准扫码枪",
                     "Ticket check: tap your community card, or hold the ticket's QR code to the scanner"),
    "cinema_entry_ok": ("请入场，您的座位是 {seat_zh}", "Please go in. Your seat is {seat_en}"),
    "cinema_entry_again": ("这张票 {entered} 已经检过票了，不能再次入场。请找工作人员",
                           "This ticket was already used at {entered}; it cannot enter again. Please ask staff"),
    "cinema_entry_no_ticket": ("这张卡没有这一场的电影票。请到领票机领票，或找工作人员",
                               "This card has no ticket for this screening. Take one at the ticket terminal, or ask "
                               "staff"),
    "cinema_entry_wrong_screening": ("这张票是{when_zh}{other_zh}的，不是这一场",
                                     "This ticket is for {other_en} {when_en}, not this screening"),
    "cinema_entry_bad_qr": ("这个二维码不是本中心的电影票，请刷一卡通或找工作人员",
                            "This code is not one of our film tickets. Tap your card, or ask staff"),
    "volunteer_present": ("志愿者签到签退：请志愿者在屏幕下方的读卡器上刷身份证",
                          "Volunteer check-in and check-out: please put your ID card on the reader below the screen"),
    "volunteer_id_card_only": ("志愿者请刷身份证签到签退，一卡通不能用来签到",
                               "Volunteers check in and out with their ID card; the community card cannot be used for this"),
    "volunteer_read_failed": ("读卡没有成功，请把卡放在读卡器上，停一秒再拿开；如仍不行请找工作人员",
                              "The card could not be read. Put it on the reader, wait a second, then take it away; "
                              "or ask a member of staff"),
    "volunteer_checked_in": ("{name}，签到成功，{hour:d}点{minute:02d}分",
                             "Checked in at {hour:d}:{minute:02d}. Thank you for volunteering"),
    "volunteer_unverified": ("志愿者名单还没有同步到本机，签到已记下，由中心核对",
                             "The volunteer list has not reached this terminal yet; your check-in is recorded and "
                             "the centre will confirm it"),
    "volunteer_cosign": ("{name}，您要签退。请服务对象在读卡器上刷卡确认；没有服务对象请点“跳过”",
                         "You are checking out. Please ask the resident you served to put their card on the reader; "
                         "with no one to confirm, press 'Skip'"),
    "volunteer_own_card": ("这是志愿者本人的卡，不能自己确认。请服务对象刷卡，或点“跳过”",
                           "This is the volunteer's own card; it cannot confirm the service. Please ask the resident "
                           "to tap, or press 'Skip'"),
    "volunteer_checked_out": ("签退成功，服务 {hours:d} 小时 {minutes:d} 分钟，已请服务对象确认",
                              "Checked out: {hours:d} hours {minutes:d} minutes of service, confirmed by the resident "
                              "you served"),
    "volunteer_checked_out_pending": ("签退成功，服务 {hours:d} 小时 {minutes:d} 分钟，待组织者审核",
                                      "Checked out: {hours:d} hours {minutes:d} minutes of service, waiting for the "
                                      "organiser's approval"),
    "volunteer_unknown": ("您还没有登记为志愿者。请用手机扫描大厅的二维码登记，或到服务台办理。",
                          "You are not registered as a volunteer yet. Scan the QR code in the hall with your phone "
                          "to register, or ask at the front desk."),
    "volunteer_inactive": ("您的志愿者登记现在不能使用，请到服务台咨询",
                           "Your volunteer registration is not active now. Please ask at the front desk"),
    "volunteer_already_in": ("{name}，您已经签到了，不用再刷卡", "You are already checked in; no need to tap again"),
    "volunteer_reader_down": ("身份证读卡器暂时不能使用，请找工作人员帮您登记，工作人员已经收到通知",
                              "The ID card reader is not working now. Please ask a member of staff to record your "
                              "hours; they have been told"),
    "volunteer_already_out": ("您已经签退了，不用再刷卡", "You have already checked out; no need to tap again"),
}


def prompt_text(key: str, language: str = "zh", params: dict[str, Any] | None = None) -> str:
    """The words of a prompt with its parameters filled in; an unknown key falls back to 'ask staff'."""
    pair = PROMPTS.get(key) or PROMPTS["read_failed"]
    text = pair[0] if language == "zh" else pair[1]
    try:
        return text.format(**(params or {}))
    except (KeyError, ValueError, TypeError):
        return text


#: Every screen state of the hall's check-in flow, what it is, and the prompts spoken there (docs/prompts.md).
SCREENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "idle": ("service tiles (screen 1); a closed service says when it opens",
             ("choose_service", "service_closed", "help_called")),
    "choosing": ("service tiles with a card held: swiped before choosing", ("choose_first", "service_chosen",
                                                                           "service_closed", "timeout_warning")),
    "present": ("where to put the card or code (screen 2)", ("present_card", "timeout_warning", "help_called")),
    "checking": ("steps in words: identity, temperature, code, priority",
                 ("measuring", "retest", "thermometer_failed")),
    "issuing": ("steps in words while the queue commits the ticket", ()),
    "printing": ("the number, while the printer prints", ("printing",)),
    "ticket": ("the number, people ahead, badges", ("ticket", "ticket_priority", "ticket_staff_check",
                                                   "ticket_not_printed", "timeout_warning", "help_called")),
    "refused": ("no ticket now, why, what next", ("refused_fever", "refused_code_yellow", "refused_code_red",
                                                  "refused_code_unknown", "refused_cap", "refused_hours",
                                                  "queue_refused", "timeout_warning", "help_called")),
    "offer": ("you already have a number: print again?", ("reprint_offer", "timeout_warning", "help_called")),
    "error": ("a card or code that did not work, or please ask staff",
              ("read_failed", "ask_staff", "error_token_expired", "error_token_forged", "error_token_unknown_key",
               "error_token_malformed", "error_token_not_yet_valid", "timeout_warning", "help_called")),
}


#: Every screen state of the canteen reader's flow, what it is, and the prompts spoken there.
CANTEEN_SCREENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "idle": ("today's menu: set meals as big buttons (self-pay), or the clerk's basket (cashier)",
             ("canteen_choose_meal", "canteen_wait_clerk", "help_called")),
    "choosing": ("the set meals with a card held: tapped before choosing",
                 ("canteen_choose_first", "canteen_meal_chosen", "timeout_warning", "help_called")),
    "present": ("the meal and its price, where to put the card", ("canteen_present", "timeout_warning", "help_called")),
    "paying": ("the meal and price while the reader takes the payment", ()),
    "paid": ("paid: the price lines, discount and subsidy, the balance left",
             ("canteen_paid", "canteen_already_paid", "canteen_low_balance", "canteen_receipt_failed",
              "timeout_warning", "help_called")),
    "refused": ("no payment, why, what next",
                ("canteen_insufficient", "canteen_over_tap_limit", "canteen_over_day_limit",
                 "canteen_too_many_offline", "canteen_no_balance", "canteen_no_policy", "canteen_unknown_card", "canteen_lost",
                 "canteen_blocked", "canteen_cancelled", "canteen_denied", "canteen_not_genuine",
                 "canteen_read_failed", "timeout_warning", "help_called")),
    "error": ("please ask staff", ("ask_staff", "timeout_warning", "help_called")),
}

#: Every screen state of the cinema terminal's flow, what it is, and the prompts spoken there.
CINEMA_SCREENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "idle": ("today's screenings as big buttons: title, time, hall, seats left, price or 免费",
             ("cinema_choose", "cinema_choose_first", "help_called")),
    "present": ("the screening, its price and where to put the card",
                ("cinema_present", "timeout_warning", "help_called")),
    "issuing": ("the screening while the ticket is paid and written", ()),
    "ticket": ("the seat large, title, time, hall, what was paid or 免费, the balance",
               ("cinema_ticket", "cinema_ticket_again", "cinema_aisle", "cinema_low_balance",
                "cinema_ticket_not_printed", "timeout_warning", "help_called")),
    "full": ("the screening is full; the next one with seats and a button to choose it",
             ("cinema_full", "cinema_full_next", "cinema_full_none", "timeout_warning", "help_called")),
    "refused": ("no ticket, why, what next; the card's ticket already held, with 补打",
                ("cinema_already", "cinema_reprinting", "cinema_closed", "cinema_insufficient",
                 "cinema_over_tap_limit", "cinema_over_day_limit", "cinema_too_many_offline", "cinema_no_balance",
                 "cinema_unknown_card", "cinema_lost", "cinema_blocked", "cinema_cancelled", "cinema_denied",
                 "cinema_not_genuine", "cinema_read_failed", "timeout_warning", "help_called")),
    "error": ("please ask staff", ("ask_staff", "timeout_warning", "help_called")),
    "entry": ("door check for one screening: tap the card or scan the ticket", ("cinema_entry",)),
    "checking": ("the screening while the ticket is checked", ()),
    "entry_result": ("go in with the seat, or why not, for a few seconds",
                     ("cinema_entry_ok", "cinema_entry_again", "cinema_entry_no_ticket",
                      "cinema_entry_wrong_screening", "cinema_entry_bad_qr", "cinema_not_genuine",
                      "cinema_read_failed", "ask_staff")),
}

#: Every screen state of the hall's volunteer desk (kiosk.hall.volunteer.flow), and the prompts spoken there.
VOLUNTEER_SCREENS: dict[str, tuple[str, tuple[str, ...]]] = {
    "idle": ("the hall's service tiles with the \u201c志愿者签到签退\u201d button", ()),
    "present": ("where the volunteer's ID card goes, with the reader picture",
                ("volunteer_present", "volunteer_id_card_only", "volunteer_read_failed", "volunteer_reader_down",
                 "timeout_warning", "help_called")),
    "finding": ("the volunteer's masked name while the roster and open check-ins are read", ()),
    "cosign": ("checking out: the served resident taps their ID card or community card, or \u201c跳过\u201d",
               ("volunteer_cosign", "volunteer_own_card", "volunteer_read_failed", "volunteer_reader_down",
                "timeout_warning", "help_called")),
    "recording": ("the masked name while the check-in or check-out is written", ()),
    "done": ("signed in with the time, signed out with the hours, or how to register",
             ("volunteer_checked_in", "volunteer_unverified", "volunteer_checked_out", "volunteer_checked_out_pending",
              "volunteer_unknown", "volunteer_inactive", "volunteer_already_in", "volunteer_already_out",
              "timeout_warning", "help_called")),
    "error": ("please ask staff", ("ask_staff", "timeout_warning", "help_called")),
}

#: Each role's screen table, in the order docs/prompts.md lists them.
ROLE_SCREENS: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {"hall": SCREENS, "hall volunteer desk": VOLUNTEER_SCREENS,
                                                                   "canteen": CANTEEN_SCREENS, "cinema": CINEMA_SCREENS}


def prompts_markdown() -> str:
    """docs/prompts.md: every screen state, its spoken prompts, and every prompt's words in both languages."""
    lines = ["# Spoken prompts of the terminals", "",
             "Generated by `python -m kiosk.prompts > docs/prompts.md`; a test checks it against the code.",
             "Every prompt is shown on screen in the same words and spoken (by default in Chinese, in English",
             "when the resident switched); \u201c再听一遍 / Hear again\u201d repeats the last one.", "",
             ]
    for role, screens in ROLE_SCREENS.items():
        lines += [f"## Screens: {role}", "", "| state | what the screen shows | spoken prompts |", "|---|---|---|"]
        for state, (what, keys) in screens.items():
            lines.append(f"| `{state}` | {what} | {', '.join(f'`{k}`' for k in keys) or '—'} |")
        lines.append("")
    lines += ["## Prompts", "", "| key | spoken | 中文 | English |", "|---|---|---|---|"]
    for key, (zh, en) in PROMPTS.items():
        spoken = "yes" if any(key in keys for t in ROLE_SCREENS.values() for _, keys in t.values()) else "no (fallback)"
        lines.append(f"| `{key}` | {spoken} | {zh} | {en} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(prompts_markdown(), end="")
