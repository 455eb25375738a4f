"""The analytics API's answers (pydantic, in the OpenAPI schema).  Money is whole fen; a ratio is a float or null.

A ratio is ``null`` when its denominator is zero or unknown (no seats registered, no 65+
population set): the page then says so in words instead of drawing a zero.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Revenue(BaseModel):
    """Money of a set of payments (voided ones excluded)."""

    gross_fen: int = Field(description="list price of the items")
    discount_fen: int = Field(description="age/group discount (a lower price, not a movement)")
    subsidy_fen: int = Field(description="paid by the subsidy fund")
    paid_fen: int = Field(description="paid from the cards")
    earned_fen: int = Field(description="what the canteen earns: paid + subsidy")


class DishRank(BaseModel):
    """One dish's place in a ranking (by portions sold, then by name)."""

    rank: int
    item_id: str
    dish: str
    qty: int = Field(description="portions sold")
    sales_fen: int = Field(description="sum of qty x unit price")


class DayFigures(BaseModel):
    """One day of one canteen (or of all canteens together)."""

    day: str
    meals: int = Field(description="payments not voided")
    customers: int = Field(description="distinct cards that paid that day")
    earned_fen: int
    paid_fen: int
    subsidy_fen: int
    per_capita_fen: int | None = Field(description="earned / customers, rounded half up")
    occupancy: float | None = Field(description="meals / (seats x sittings); null without seats")


class SlotFigures(BaseModel):
    """Meals whose payment fell in one 15-minute slot (local time), over the month."""

    start: str = Field(description="HH:MM, Shanghai time")
    meals: int
    per_day: float = Field(description="meals / days the canteen served")
    seat_share: float | None = Field(description="per_day / seats; null without seats")


class TierFigures(BaseModel):
    """Subsidised meals of one subsidy tier: the reimbursement base."""

    tier: str
    meals: int
    subsidy_fen: int
    cards: int = Field(description="distinct cards")


class CanteenFigures(BaseModel):
    """A canteen's month (``canteen`` is its site; ``*`` is every canteen together)."""

    canteen: str
    meals: int
    customers: int = Field(description="distinct cards in the month")
    customer_days: int = Field(description="sum over days of that day's distinct cards")
    revenue: Revenue
    per_capita_fen: int | None = Field(description="earned / customer_days, rounded half up")
    per_capita_paid_fen: int | None = Field(description="paid / customer_days, rounded half up")
    seats: int | None = Field(description="sum of the site's canteen spaces' capacity")
    meal_capacity: int | None = Field(description="sum of capacity x sittings: meals a full day seats")
    serving_days: int
    occupancy: float | None = Field(description="meals / (meal_capacity x serving_days)")
    days: list[DayFigures]
    slots: list[SlotFigures]
    dishes: list[DishRank]
    tiers: list[TierFigures]


class RepurchaseFigures(BaseModel):
    """Repurchase within ``window_days`` for one age band (see :func:`sync.central.analytics.figures.repurchase`)."""

    age_band: str = Field(description="the payment's age band (60-79, 80+ ...); 'under-60' when it had none")
    window_days: int
    base: int = Field(description="(card, day) pairs in the month whose whole window is observed")
    returned: int = Field(description="of those, pairs whose card paid again within the window")
    rate: float | None


class CardActivity(BaseModel):
    """Cards that paid in the month against cards issued."""

    issued: int = Field(description="distinct active card rows across all sites")
    paying: int = Field(description="distinct cards with a payment in the month")
    active: int = Field(description="paying cards that are issued and active")
    activity: float | None = Field(description="active / issued")


class ElderlyFigures(BaseModel):
    """Subsidised meals by tier, and how much of the 65+ population the canteens reach."""

    meals: int
    subsidy_fen: int
    tiers: list[TierFigures]
    diners_65_plus: int = Field(description="distinct paying cards whose card row's birth_year makes them 65+ "
                                "in the month's year")
    population_65_plus: int | None = Field(description="set with 'linfen central analytics settings'")
    share_65_plus: float | None = Field(description="diners_65_plus / population_65_plus")


class CanteenAnalytics(BaseModel):
    """Every canteen figure of one month."""

    month: str
    as_of: str = Field(description="the last day whose data is taken as complete (repurchase windows end by it)")
    canteen: str | None = Field(description="the canteen asked for, or null for all")
    payments: int = Field(description="payments in the month before voids")
    voided: int = Field(description="of those, voided (excluded from every figure)")
    canteens: list[CanteenFigures]
    total: CanteenFigures
    repurchase: list[RepurchaseFigures]
    cards: CardActivity
    elderly: ElderlyFigures


class TopDishes(BaseModel):
    """The month's most popular dishes (what the hall display shows as 本月最受欢迎的菜)."""

    month: str
    site: str | None = Field(description="the canteen (site) ranked, or null for every canteen together")
    dishes: list[DishRank]


class SettingsAnswer(BaseModel):
    """The analytics settings."""

    population_65_plus: int | None
