"""What the hall says and shows for each prompt key, in Chinese and English.

The flow names a prompt by key (``Say("refused_fever")``); the voice speaks this text
and the screen shows the same words, so no state is told by colour alone.
"""

from __future__ import annotations

from typing import Any

PROMPTS: dict[str, tuple[str, str]] = {
    "idle": ("请刷身份证、社保卡，或出示随申码", "Please swipe your ID card or social-security card, or show your code"),
    "measuring": ("正在测量体温，请稍候", "Measuring your temperature, please wait"),
    "retest": ("体温偏高，请再测一次", "Your temperature is high, please measure again"),
    "ticket": ("您的号码是 {number}，前面还有 {people_ahead} 人", "Your number is {number}, {people_ahead} people ahead"),
    "ticket_not_printed": ("打印机缺纸，请记下您的号码 {number}，工作人员马上处理",
                           "The printer is out of paper. Please note your number {number}; staff are coming"),
    "reprint_offer": ("您已取过号 {number}，需要补打吗？", "You already have number {number}. Print it again?"),
    "timeout_warning": ("页面即将返回首页，需要更多时间请点“继续”",
                        "This screen will close soon. Press 'More time' if you need it"),
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
}


def prompt_text(key: str, language: str = "zh", params: dict[str, Any] | None = None) -> str:
    """The words of a prompt with its parameters filled in; an unknown key falls back to 'ask staff'."""
    pair = PROMPTS.get(key) or PROMPTS["read_failed"]
    text = pair[0] if language == "zh" else pair[1]
    try:
        return text.format(**(params or {}))
    except (KeyError, ValueError, TypeError):
        return text
