"""Tests for persona_kit.features: known answers on hand-built frames, no leakage, pandas and polars."""

from __future__ import annotations

from persona_kit import features


def test_feature_columns_contract():
    cols = features.FEATURE_COLUMNS
    for name in ["views_30d", "orders_90d", "spend_365d", "aov_365d", "active_days_30d",
                 "days_since_last_active", "days_since_last_purchase", "first_purchase_date", "top_category",
                 "price_band", "preferred_channel", "peak_hour", "peak_weekday", "discount_share_365d",
                 "reviews_365d", "avg_rating_365d", "avg_sentiment_365d", "gender", "age", "city",
                 "province", "member_level", "consent_marketing"]:
        assert name in cols and cols[name]
    assert list(features.feature_columns((7,))).count("views_7d") == 1
