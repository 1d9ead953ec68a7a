"""Contracts every Tollway service shares: events, topics, money, ClickHouse DDL.

Services import from here and never from one another.
"""
