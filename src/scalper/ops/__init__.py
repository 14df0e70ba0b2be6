"""Operations: alert delivery (the outbox dispatcher, its policy, the alert kinds) and scheduled jobs."""
