"""Points in time as users write them, and the one ISO form catalog-etl writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.times import TimeFormatError, as_utc, iso, parse_time
from tests.helpers import daily_files

NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


def is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


class TestParseTime:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-03-02", datetime(2026, 3, 2, tzinfo=UTC)),  # bare date: midnight UTC
            ("2026-03-02T01:03:22", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),  # naive = UTC
            ("2026-03-02 01:03:22", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),  # space separator
            ("2026-03-02T01:03:22Z", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),  # Z suffix
            ("2026-03-02T01:03:22+00:00", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),
            ("2026-03-02T03:03:22+02:00", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),  # offset
            ("2026-03-02T00:30:00-01:00", datetime(2026, 3, 2, 1, 30, tzinfo=UTC)),
            ("2026-03-02T01:03:22.250Z", datetime(2026, 3, 2, 1, 3, 22, 250000, tzinfo=UTC)),
            ("2026-03-02T010322Z", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),  # file-name form
            ("20260302T010322Z", datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)),  # basic compact
            ("  2026-03-02  ", datetime(2026, 3, 2, tzinfo=UTC)),  # surrounding blanks
        ],
    )
    def test_reads_iso_times(self, text, expected):
        """ISO dates and times, Z, offsets and the compact file-name form give the UTC instant."""
        result = parse_time(text)
        assert result == expected
        assert is_utc(result)

    @pytest.mark.parametrize(
        ("text", "age"),
        [
            ("7d", timedelta(days=7)),
            ("12h", timedelta(hours=12)),
            ("30m", timedelta(minutes=30)),  # m is minutes, not months
            ("45s", timedelta(seconds=45)),
            ("2w", timedelta(weeks=2)),
            ("0d", timedelta(0)),
        ],
    )
    def test_relative_ages_count_back_from_now(self, text, age):
        """An age such as 7d or 12h is that long before the injected now."""
        assert parse_time(text, now=NOW) == NOW - age

    @pytest.mark.parametrize("text", ["now", "NOW", " Now "])
    def test_now_is_the_injected_now(self, text):
        """'now' (any case) is the injected now."""
        assert parse_time(text, now=NOW) == NOW

    def test_now_defaults_to_the_clock(self):
        """Without an injected now, 'now' is the current UTC time."""
        before = datetime.now(UTC)
        result = parse_time("now")
        after = datetime.now(UTC)
        assert before <= result <= after
        assert is_utc(result)

    @pytest.mark.parametrize("text", ["now", "7d"])
    def test_results_are_utc_even_for_a_zoned_now(self, text):
        """Every result is aware UTC, even when the injected now carries another offset."""
        zoned_now = NOW.astimezone(PLUS_TWO)
        result = parse_time(text, now=zoned_now)
        assert result == parse_time(text, now=NOW)
        assert is_utc(result)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "   ",
            "yesterday",
            "7x",  # unknown unit
            "d7",
            "-7d",  # ages are not negative
            "7 days",
            "2026-02-30",  # no such day
            "2026-13-01",  # no such month
            "2026-03-02T25:00:00",  # no such hour
            "03/02/2026",  # not ISO
            "1741000000",  # epoch seconds are not accepted
        ],
    )
    def test_garbage_raises(self, text):
        """Text naming no point in time raises TimeFormatError that quotes it."""
        with pytest.raises(TimeFormatError) as raised:
            parse_time(text, now=NOW)
        assert repr(text) in str(raised.value)
        assert isinstance(raised.value, ValueError)

    def test_daily_file_names_parse_in_time_order(self):
        """The capture file names (2026-03-02T010322Z...) parse, and name order is time order."""
        times = [parse_time(path.name.split(".")[0]) for path in daily_files()]
        assert len(times) == 63
        assert times == sorted(times)
        assert all(is_utc(moment) for moment in times)
        assert times[0] == datetime(2026, 2, 27, 23, 40, 50, tzinfo=UTC)


class TestAsUtc:
    def test_naive_is_taken_as_utc(self):
        """A naive datetime gets the UTC zone without moving."""
        assert as_utc(datetime(2026, 3, 2, 1, 3, 22)) == datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)

    def test_aware_is_converted(self):
        """An aware datetime in another zone becomes the same instant in UTC."""
        result = as_utc(datetime(2026, 3, 2, 3, 3, 22, tzinfo=PLUS_TWO))
        assert result == datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC)
        assert is_utc(result)


class TestIso:
    @pytest.mark.parametrize(
        ("moment", "text"),
        [
            (datetime(2026, 3, 2, 1, 3, 22, tzinfo=UTC), "2026-03-02T01:03:22Z"),
            (datetime(2026, 3, 2, 1, 3, 22), "2026-03-02T01:03:22Z"),  # naive = UTC
            (datetime(2026, 3, 2, 3, 3, 22, tzinfo=PLUS_TWO), "2026-03-02T01:03:22Z"),  # offset
            (datetime(2026, 3, 2, 1, 3, 22, 500000, tzinfo=UTC), "2026-03-02T01:03:22.500000Z"),
        ],
    )
    def test_writes_utc_with_z(self, moment, text):
        """iso() writes the UTC instant ending with Z, never +00:00."""
        assert iso(moment) == text

    @given(
        st.datetimes(
            min_value=datetime(1970, 1, 2),
            max_value=datetime(2200, 1, 1),
            timezones=st.sampled_from(
                [UTC, PLUS_TWO, timezone(timedelta(hours=-8)), timezone(timedelta(minutes=330))]
            ),
        )
    )
    def test_round_trips_through_parse_time(self, moment):
        """parse_time(iso(t)) is t, and iso() output always ends with Z and has no offset."""
        text = iso(moment)
        assert text.endswith("Z")
        assert "+" not in text
        assert parse_time(text) == moment
