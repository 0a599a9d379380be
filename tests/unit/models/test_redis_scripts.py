"""Lua scripts as sent to Redis: library files inlined where a script includes them."""

from models.redis import LUA_DIR, lua_source


def test_an_include_line_is_replaced_by_the_librarys_text():
    source = lua_source("res_enqueue")
    assert not [line for line in source.splitlines() if line.startswith("--#include")]
    assert lua_source("lib_admission") in source
    assert source.count("local function admission(") == 1


def test_every_script_that_judges_an_admission_shares_the_librarys_function():
    users = sorted(p.stem for p in LUA_DIR.glob("*.lua") if "--#include lib_admission\n" in p.read_text())
    assert users == ["res_enqueue", "room_admission"]
    assert all("local function admission(" in lua_source(name) for name in users)


def test_every_script_that_counts_a_rate_limit_shares_one_gcra():
    users = sorted(p.stem for p in LUA_DIR.glob("*.lua") if "--#include lib_gcra\n" in p.read_text())
    assert users == ["ratelimit", "room_join"]
    assert all(lua_source(name).count("local function gcra(") == 1 for name in users)
    # No second copy of the algorithm: only the library advances a theoretical arrival time.
    assert [p.stem for p in LUA_DIR.glob("*.lua") if "new_tat" in p.read_text()] == ["lib_gcra"]
