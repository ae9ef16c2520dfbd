from __future__ import annotations

import pytest

from sentinel.store.query import QuerySyntaxError, parse_query


def test_fields_words_and_quotes():
    q = parse_query('source.ip:1.2.3.4 source.ip:5.6.7.8 url.path:/api/* "union select" http://x.vn/a')
    assert q.filters == {"source.ip": ["1.2.3.4", "5.6.7.8"], "url.path": ["/api/*"]}
    assert q.text == "union select http://x.vn/a"
    assert parse_query('user.name:"Nguyễn Văn A"').filters == {"user.name": ["Nguyễn Văn A"]}
    assert parse_query("").text is None


@pytest.mark.parametrize("bad", ['"open', "source.ip:"])
def test_syntax_errors_say_what_to_do(bad):
    with pytest.raises(QuerySyntaxError):
        parse_query(bad)
