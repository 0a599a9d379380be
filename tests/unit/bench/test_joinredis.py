from bench import joinredis
from models.redis import LUA_DIR, inline_includes, lua_source


def test_a_variant_file_has_its_includes_inlined_as_the_registry_does():
    assert inline_includes((LUA_DIR / "room_join.lua").read_text()) == lua_source("room_join")
    assert "--#include" not in lua_source("room_join")


def test_a_small_run_reports_every_variant_with_the_joins_commands(tmp_path, capsys):
    variant = tmp_path / "same.lua"
    variant.write_text((LUA_DIR / "room_join.lua").read_text())
    joinredis.main(["--fans", "300", "--joins", "32", "--rounds", "1", "--variant", f"same={variant}"])
    out = capsys.readouterr().out
    # A new join after on-sale: EVALSHA, TIME, two GETs and two SETs for the limits, then HMGET,
    # HGET, HINCRBY, HSET, PEXPIREAT and RPUSH (and a PEXPIREAT for the round's new journal); a
    # rejoin stops after its HGET.
    rounds = [line for line in out.splitlines() if line.startswith("round 1 ")]
    assert [line.split(":")[0] for line in rounds] == ["round 1 main", "round 1 same"]
    for line in rounds:
        assert ("{'evalsha': 1.0, 'get': 2.0, 'hget': 1.0, 'hincrby': 1.0, 'hmget': 1.0, 'hset': 1.0, "
                "'pexpireat': 1.03, 'rpush': 1.0, 'set': 2.0, 'time': 1.0}") in line
        assert line.endswith("8.00 commands")
    assert "  main: new " in out and "  same: new " in out
