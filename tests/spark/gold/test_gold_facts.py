from gold_inputs import empty, silver
from spark.gold import dim_location, dim_song, dim_user, fact_auth, fact_listen, fact_page_view, \
    fact_status_change, refdata


def _versions(spark, views):
    none = [silver(spark, t, []) for t in ("listen_events", "auth_events", "status_change_events")]
    obs = dim_user.level_observations(none[0], views, none[1], none[2])
    return dim_user.merge_versions(empty(spark, "gold.dim_user"), obs)


def test_facts_keep_every_silver_row_and_point_at_the_version_valid_then(spark):
    views = silver(spark, "page_view_events", [
        {"event_at": "2026-01-01 10:00:00", "user_id": 7, "level": "free"},
        {"event_at": "2026-01-01 11:00:00", "user_id": 7, "level": "paid"},
        {"event_at": "2026-01-01 11:30:00", "user_id": None, "auth": "Logged Out", "city": None,
         "state_code": None, "zip": None}])
    versions = _versions(spark, views)
    out = {r.event_key: r for r in fact_page_view.build(views, versions).collect()}
    assert len(out) == 3
    key_of = {r.level: r.user_key for r in versions.collect()}
    assert out["page_view_events-0"].user_key == key_of["free"]
    assert out["page_view_events-1"].user_key == key_of["paid"]
    assert (out["page_view_events-2"].user_key, out["page_view_events-2"].location_key) == (-1, -1)
    assert (out["page_view_events-1"].date_key, out["page_view_events-1"].time_key) == (20260101, 1100)
    locations = dim_location.new_members(views, empty(spark, "gold.dim_location"), refdata.states(spark))
    assert out["page_view_events-0"].location_key == locations.first().location_key


def test_listen_and_other_facts_resolve_their_keys(spark):
    listens = silver(spark, "listen_events", [{"event_at": "2026-01-01 10:00:00", "user_id": 7}])
    versions = _versions(spark, silver(spark, "page_view_events", [
        {"event_at": "2026-01-01 09:00:00", "user_id": 7}]))
    fact = fact_listen.build(listens, versions).first()
    song = dim_song.new_members(listens, empty(spark, "gold.dim_song"), refdata.songs(spark)).first()
    assert (fact.song_key, fact.artist_key) == (song.song_key, song.artist_key)
    assert fact.user_key == versions.first().user_key
    auths = silver(spark, "auth_events", [{"event_at": "2026-01-01 08:00:00", "user_id": None,
                                           "is_success": False}])
    assert fact_auth.build(auths, versions).first().user_key == -1
    changes = silver(spark, "status_change_events", [{"event_at": "2026-01-01 10:00:00", "user_id": 7}])
    assert fact_status_change.build(changes, versions).first().change_type == "upgrade"
    # an event of a user with no version is not hidden behind the unknown member
    stranger = silver(spark, "listen_events", [{"event_at": "2026-01-01 10:00:00", "user_id": 99}])
    assert fact_listen.build(stranger, versions).first().user_key is None
