"""The Time Bank (时间银行): volunteers, hours, a coin ledger, activities and micro-projects (docs/timebank.md)."""
