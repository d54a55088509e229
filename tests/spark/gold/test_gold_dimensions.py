from datetime import date

from pyspark.sql import functions as F

from gold_inputs import empty, silver
from medley.contracts import all_contracts
from spark.gold import dim_artist, dim_date, dim_location, dim_song, dim_time, refdata


def test_reference_rows_are_unique_on_their_join_keys():
    tracks = refdata.tracks()
    songs, artists = refdata.song_rows(tracks), refdata.artist_rows(tracks)
    assert len({(s[0], s[1]) for s in songs}) == len(songs) > 9000
    assert len({a[0] for a in artists}) == len(artists)
    assert len({s[0] for s in refdata.state_rows()}) == len(refdata.state_rows())
    box_tops = next(a for a in artists if a[0] == "The Box Tops")
    assert box_tops[1:] == ("ARMJAGH1187FB546F3", "Memphis, TN", 35.14968, -90.04892)
    assert next(a for a in artists if a[0] == "Casual")[3:] == (None, None)   # MSD's 0,0 = unknown


def test_no_gold_contract_carries_personal_data():
    for c in all_contracts("gold"):
        assert not [col.name for col in c.columns if col.pii or col.name in ("first_name", "last_name")]


def test_songs_and_artists_get_members_in_the_catalog_or_not_once(spark):
    listens = silver(spark, "listen_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "artist": "The Box Tops", "song": "Soul Deep"},
        {"event_at": "2026-01-01 10:03:00", "user_id": 7, "artist": "The Box Tops", "song": "Soul Deep"},
        {"event_at": "2026-01-01 10:06:00", "user_id": 7, "artist": "Nobody Known", "song": "Demo"}])
    songs = dim_song.new_members(listens, empty(spark, "gold.dim_song"), refdata.songs(spark))
    rows = {r.song: r for r in songs.collect()}
    assert set(rows) == {"Soul Deep", "Demo"}
    assert (rows["Soul Deep"].is_in_catalog, rows["Soul Deep"].release_year) == (True, 1969)
    assert (rows["Demo"].is_in_catalog, rows["Demo"].track_id) == (False, None)
    assert dim_song.new_members(listens, songs, refdata.songs(spark)).count() == 0

    artists = dim_artist.new_members(listens, empty(spark, "gold.dim_artist"), refdata.artists(spark))
    by_name = {r.artist: r for r in artists.collect()}
    assert by_name["The Box Tops"].artist_location == "Memphis, TN"
    assert by_name["Nobody Known"].is_in_catalog is False
    # the song's artist_key is the artist's member
    assert {r.artist_key for r in songs.collect()} == {r.artist_key for r in artists.collect()}
    assert dim_song.with_unknown(songs).where(F.col("song_key") == -1).count() == 1


def test_locations_named_by_state_skip_missing_and_known_ones(spark):
    events = silver(spark, "page_view_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7},
        {"event_at": "2026-01-01 10:01:00", "user_id": 8, "city": "Charlotte", "state_code": "NC",
         "zip": None, "lat": None, "lon": None, "dialect": "interana"},
        {"event_at": "2026-01-01 10:02:00", "user_id": None, "city": None, "state_code": None,
         "zip": None, "lat": None, "lon": None}])
    members = dim_location.new_members(events, empty(spark, "gold.dim_location"), refdata.states(spark))
    rows = sorted((r.city, r.state_code, r.state_name, r.zip, r.lat) for r in members.collect())
    assert rows == [("Charlotte", "NC", "North Carolina", None, None),
                    ("Tampa", "FL", "Florida", "33601", 27.95)]
    assert dim_location.new_members(events, members, refdata.states(spark)).count() == 0


def test_dates_fill_the_whole_span_without_duplicates(spark):
    existing = dim_date.build(spark.createDataFrame([(date(2026, 1, 2),)], "date date"))
    batch = spark.createDataFrame([(date(2026, 1, 5),)], "event_date date")
    added = dim_date.build(dim_date.dates_to_add(batch, existing))
    assert [r.date for r in added.orderBy("date").collect()] == [date(2026, 1, 3), date(2026, 1, 4),
                                                                 date(2026, 1, 5)]
    sunday = added.where(F.col("date") == date(2026, 1, 4)).first()
    assert (sunday.date_key, sunday.day_of_week, sunday.day_name, sunday.is_weekend,
            sunday.month_start) == (20260104, 7, "Sunday", True, date(2026, 1, 1))


def test_dim_time_has_every_minute_once(spark):
    out = dim_time.build(spark.range(24 * 60))
    assert out.select("time_key").distinct().count() == 1440
    by_key = {r.time_key: r for r in out.where(F.col("time_key").isin(0, 559, 600, 1345, 2359)).collect()}
    assert [(k, by_key[k].time_of_day, by_key[k].day_part) for k in sorted(by_key)] == [
        (0, "00:00", "night"), (559, "05:59", "night"), (600, "06:00", "morning"),
        (1345, "13:45", "afternoon"), (2359, "23:59", "evening")]
