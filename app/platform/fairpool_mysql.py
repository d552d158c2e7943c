"""Tortoise's engine for MySQL/MariaDB with the fair pool gate (app/platform/fairpool.py):
the app's database config names this module where Tortoise's own would be."""

from app.platform.fairpool import FairMySQLClient

client_class = FairMySQLClient
