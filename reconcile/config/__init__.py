"""``config.toml`` → a frozen :class:`Config`, validated up front so a run never starts on a bad one.

    model.py    the typed, frozen values every part of reconcile reads
    keys.py     every key of the file, declared once: the loader and the JSON Schema read it
    values.py   reading one TOML value: type, range, ${VAR}, the key path errors name
    load.py     load_config/parse_config (the first mistake), config_problems (all of them)
    schema.py   the JSON Schema of config.toml, made from keys.py
"""

from .load import config_problems, load_config, load_section, parse_config
from .model import (ChecksConfig, Config, CustomerIOConfig, DatabaseConfig, DiagnosisConfig, EmailConfig,
                    HistoryConfig, PurchasesConfig, SegmentConfig, SlackConfig, WebhookConfig)

__all__ = ["load_config", "parse_config", "config_problems", "load_section", "Config", "DatabaseConfig",
           "CustomerIOConfig", "SegmentConfig", "HistoryConfig", "EmailConfig", "SlackConfig", "WebhookConfig",
           "ChecksConfig", "DiagnosisConfig", "PurchasesConfig"]
