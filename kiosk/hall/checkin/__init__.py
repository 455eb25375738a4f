"""The service hall's check-in: swipe or show a code, temperature, code status, priority, ticket."""
