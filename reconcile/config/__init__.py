"""``config.toml`` → a frozen :class:`Config`, validated up front so a run never starts on a bad one.

    model.py    the typed, frozen values every part of reconcile reads
    values.py   reading one TOML value: type, range, ${VAR}, the key path errors name
    load.py     the sections, and load_config/parse_config
"""

from .load import load_config, parse_config
from .model import (ChecksConfig, Config, CustomerIOConfig, DatabaseConfig, DiagnosisConfig, EmailConfig,
                    HistoryConfig, PurchasesConfig, SegmentConfig)

__all__ = ["load_config", "parse_config", "Config", "DatabaseConfig", "CustomerIOConfig", "SegmentConfig",
           "HistoryConfig", "EmailConfig", "ChecksConfig", "DiagnosisConfig", "PurchasesConfig"]
