"""One Powertools logger for the whole service (structured JSON, correlation id per request)."""

from aws_lambda_powertools import Logger

logger = Logger(service="parley")
