"""The protector on single documents: where values hide in a document, and what it replaces them with.

``test_ingest.py`` checks the stored result of the whole ingest pipeline and ``test_never_raw.py`` every
byte written; here the :class:`~sentinel.policy.protect.Protector` of the ingest purpose is called on one
document at a time, with the real recognisers, and the result is compared field by field.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import orjson
import pytest

from sentinel.policy.finder import classifier_finder
from sentinel.policy.model import INGEST
from sentinel.policy.operators import TOKEN, OperatorSet, reveal
from sentinel.policy.protect import DROP, Protector
from sentinel.policy.purposes import purpose_protector

from .conftest import CCCD, EMAIL, NAME, PHONE

CARD = "4111111111111111"  # a test card number (valid checksum)


@pytest.fixture
def protector(loaded, keys) -> Protector:
    # one per test (the recognisers are shared): every test that uses it runs its construction
    return purpose_protector(loaded, INGEST, keys)


def pseudonym(protector: Protector, entity: str, raw: str) -> str:
    return protector.ops.apply(entity, raw)


def test_a_named_field_holding_a_list_has_each_value_replaced_by_its_name(protector):
    """Values no recogniser would find alone (a short name, an ethnicity) are protected because of the field."""
    doc = {
        "form": {"so_cccd": [CCCD, None], "ho_ten": ["Lò", "Pá"], "dan_toc": ["Kinh", ""]},
        "message": f"ho so {CCCD}",
    }
    out = protector.protect(doc)
    assert out["form"] == {
        "so_cccd": [pseudonym(protector, "VN_CCCD", CCCD), None],
        "ho_ten": [pseudonym(protector, "PERSON", "Lò"), pseudonym(protector, "PERSON", "Pá")],
        "dan_toc": ["<ETHNICITY>", ""],
    }
    assert out["message"] == f"ho so {pseudonym(protector, 'VN_CCCD', CCCD)}"  # the same value elsewhere too


def test_a_denied_named_field_is_removed_whole_even_as_a_list(loaded):
    """A role that may not see phones: the field goes, and the number is redacted where else it occurs."""
    finder = classifier_finder(["VN_PHONE"], 0.5, loaded.classifiers_dir)
    deny = Protector(loaded, {"VN_PHONE": DROP}, OperatorSet({}, None, loaded.classifiers_dir), finder)
    doc = {"so_dien_thoai": [PHONE, "0912345678"], "message": f"gọi {PHONE}", "ma": "HS-1"}
    assert deny.protect(doc) == {"message": "gọi <VN_PHONE>", "ma": "HS-1"}


def test_strings_in_lists_and_large_numbers_are_read(protector):
    out = protector.protect({"tags": ["gọi " + PHONE, "ok"], "ref": int(CARD), "count": 12, "ok": True})
    assert out["tags"] == ["gọi " + pseudonym(protector, "VN_PHONE", PHONE), "ok"]
    assert isinstance(out["ref"], str) and out["ref"].startswith("pe-credit_card-")  # encrypted, not stored raw
    assert (out["count"], out["ok"]) == (12, True)


def test_a_longer_value_is_replaced_whole_before_a_shorter_one_inside_it(protector):
    """ "Nguyễn Văn" is also a value here: the message must not keep "An" after a half-replaced name."""
    doc = {"ho_ten": NAME, "nguoi_nop": "Nguyễn Văn", "message": f"nộp bởi {NAME} hôm nay"}
    out = protector.protect(doc)
    assert out["message"] == f"nộp bởi {pseudonym(protector, 'PERSON', NAME)} hôm nay"


def test_a_json_original_is_rewritten_by_its_field_names(protector):
    """Inside a JSON ``event.original`` a named field is replaced even where no recogniser would see its value."""
    original = orjson.dumps({"ho_ten": "Lò", "thu_tuc": "1.001612"}).decode()
    out = protector.protect({"event": {"original": original}})
    assert orjson.loads(out["event"]["original"]) == {
        "ho_ten": pseudonym(protector, "PERSON", "Lò"),
        "thu_tuc": "1.001612",
    }


def test_an_identifier_only_in_a_structured_string_is_found(protector):
    line = f"203.0.113.9 GET /dvc/tra-cuu 200 lien he {PHONE}"
    out = protector.protect({"event": {"original": line}, "source": {"ip": "203.0.113.9"}})
    assert out["event"]["original"] == line.replace(PHONE, pseudonym(protector, "VN_PHONE", PHONE))
    assert out["source"]["ip"] == "203.0.113.9"  # kept, as the ingest purpose says


def test_a_failed_lines_raw_text_is_read_as_free_text(protector):
    """A line that failed to parse has no parsed fields: names in it are found with the name tagger too.

    "Giáp Thu Ngân" (no common surname) is found only by the tagger, which structured strings do not get.
    """
    name = "Giáp Thu Ngân"
    text = f'{{"msg": "phản ánh của ông {name} đã tiếp nhận", '  # cut short: not JSON
    failed = protector.protect({"event": {"kind": "pipeline_error", "original": text}})
    assert failed["event"]["original"] == text.replace(name, pseudonym(protector, "PERSON", name))
    parsed = protector.protect({"event": {"kind": "event", "original": text}})
    assert parsed["event"]["original"] == text  # a parsed event's raw line is structure: its fields were read


def test_glued_identifiers_are_replaced_whole(protector):
    text = f"tệp CCCD_{CCCD}.pdf, gửi {EMAIL}, bản sao lan.tran@example.vn.pdf, mã req-{PHONE}x"
    out = protector.protect({"message": text})
    expected = (
        text.replace(CCCD, pseudonym(protector, "VN_CCCD", CCCD))
        .replace(EMAIL, pseudonym(protector, "EMAIL_ADDRESS", EMAIL))
        .replace("lan.tran@example.vn", pseudonym(protector, "EMAIL_ADDRESS", "lan.tran@example.vn"))
        .replace(PHONE, pseudonym(protector, "VN_PHONE", PHONE))
    )
    assert out["message"] == expected


def test_of_the_addresses_in_a_glued_token_the_longest_the_recognisers_accept_is_replaced(protector):
    """The first candidate only holds an address inside it; later, whole candidates are still read."""
    out = protector.protect({"message": "tệp files/lan.tran@example.vn.pdf"})
    address = "files/lan.tran@example.vn"  # "/" may be part of a local part
    assert out["message"] == f"tệp {pseudonym(protector, 'EMAIL_ADDRESS', address)}.pdf"


def test_objects_inside_lists_are_rewritten(protector):
    doc = {"contacts": [{"ghi_chu": f"gọi {PHONE}", "so_cccd": CCCD}, {"ghi_chu": "không"}]}
    assert protector.protect(doc) == {
        "contacts": [
            {
                "ghi_chu": f"gọi {pseudonym(protector, 'VN_PHONE', PHONE)}",
                "so_cccd": pseudonym(protector, "VN_CCCD", CCCD),
            },
            {"ghi_chu": "không"},
        ]
    }


def test_encrypted_values_are_not_linkable_across_documents(protector, keys):
    bank = "0451000123456"
    first, second = (protector.protect({"so_tai_khoan": bank, "note": f"stk {bank}"}) for _ in range(2))
    assert first["so_tai_khoan"] != second["so_tai_khoan"]  # a random IV each time, no cache
    assert first["note"] == f"stk {first['so_tai_khoan']}"  # within one document: one replacement everywhere
    assert reveal(first["so_tai_khoan"], keys) == reveal(second["so_tai_khoan"], keys) == bank


def test_each_value_is_counted_once_however_often_it_occurs(protector):
    protector.protect({"so_cccd": CCCD, "message": f"CCCD {CCCD}", "url": {"query": f"id={CCCD}"}})
    assert protector.counts == {"VN_CCCD": 1}


def test_one_cell_by_its_column_or_by_its_text(protector):
    assert protector.protect_value("so_cccd", CCCD) == pseudonym(protector, "VN_CCCD", CCCD)
    assert protector.protect_value("so_cccd", "") == ""
    assert (
        protector.protect_value("ghi_chu", f"gọi {PHONE} sau") == f"gọi {pseudonym(protector, 'VN_PHONE', PHONE)} sau"
    )
    assert protector.protect_value(None, "không có gì") == "không có gì"
    assert protector.counts == {"VN_CCCD": 1, "VN_PHONE": 1}
    assert TOKEN.fullmatch(protector.protect_value("so_cccd", pseudonym(protector, "VN_CCCD", CCCD)))


def test_a_value_is_replaced_where_it_stands_alone_not_inside_a_longer_word(protector):
    out = protector.protect({"so_ho_chieu": "B1234567", "message": "mã XB1234567 và B1234567"})
    assert out["message"] == f"mã XB1234567 và {pseudonym(protector, 'VN_PASSPORT', 'B1234567')}"


def test_a_named_value_its_operator_leaves_as_it_is_stays(protector):
    out = protector.protect({"que_quan": "Hà Nội", "ghi_chu": f"gọi {PHONE}"})  # something else changes
    assert out == {"que_quan": "Hà Nội", "ghi_chu": f"gọi {pseudonym(protector, 'VN_PHONE', PHONE)}"}


def test_an_object_in_a_named_field_is_walked_not_replaced_whole(protector):
    doc = {"dia_chi": {"so_nha": "12", "ghi_chu": "gần chợ"}}
    assert protector.protect(doc) == doc


def test_skipped_fields_are_found_by_their_full_path_inside_lists(protector):
    """``trace.id`` is structure: kept even when the same digits are a phone number elsewhere in the event."""
    out = protector.protect({"trace": [{"id": PHONE}], "message": f"gọi {PHONE}"})
    assert out == {"trace": [{"id": PHONE}], "message": f"gọi {pseudonym(protector, 'VN_PHONE', PHONE)}"}


@pytest.mark.parametrize("query", [quote_plus("ông Giáp Thu Ngân"), "ông+Giáp+Thu+Ngân", "ông Giáp Thu Ngân"])
def test_a_name_in_a_search_term_is_replaced_as_the_url_carries_it(protector, query):
    """The tagger reads the decoded search term; the name is replaced in the query in the form it has there."""
    out = protector.protect({"url": {"query": f"q={query}&page=1"}})["url"]["query"]
    assert "Ng%C3%A2n" not in out and "Ngân" not in out and "pz-person-" in out
    assert out.startswith("q=") and out.endswith("&page=1")


def test_a_structured_string_is_still_read_after_known_values_are_replaced_in_it(protector):
    line = f"POST /dvc/nop-ho-so cccd={CCCD} lien he {PHONE}"
    out = protector.protect({"so_cccd": CCCD, "event": {"original": line}})
    expected = line.replace(CCCD, pseudonym(protector, "VN_CCCD", CCCD)).replace(
        PHONE, pseudonym(protector, "VN_PHONE", PHONE)
    )
    assert out["event"]["original"] == expected


def test_cells_are_counted_each_time(protector):
    for _ in range(3):
        protector.protect_value("so_cccd", CCCD)
    assert protector.counts == {"VN_CCCD": 3}


def test_a_structured_string_is_read_without_the_strings_it_holds(protector):
    """A raw line is read with its message and user agent blanked out: context in one field (an account
    phrase in the message) does not make a bare number in another (the user agent) an account number."""
    raw = '1.2.3.4 - - [01/Jul/2026:10:00:00 +0700] "GET / HTTP/1.1" 200 1 "số tài khoản" "0011004123456"'
    event = {"event": {"original": raw}, "message": "số tài khoản", "user_agent": {"original": "0011004123456"}}
    assert protector.protect(event) == event
    # the same words beside the number in one string are an account number, protected everywhere
    glued = {"event": {"original": raw}, "message": "số tài khoản 0011004123456"}
    out = orjson.dumps(protector.protect(glued)).decode()
    assert "0011004123456" not in out and out.count("pe-vn_bank_account-") == 2


@pytest.mark.parametrize(
    ("text", "free"),
    [
        ("GET /static/app.js HTTP/1.1 200 23574", True),
        ("Đăng Ký Kết Hôn trang 2", True),  # Vietnamese, short digit runs
        ("/ho-so/001099012345/giay-to.pdf", False),  # nine ASCII digits or more
        ("tìm hồ sơ 001099012345", False),  # the same in non-ASCII text
        ("mã ٠٠١٠٩٩٠١٢٣٤٥", False),  # another script's digits: pieces read them too
        ("nguyen@example.vn", False),
        ("12345678 + 1", True),  # eight digits are no identifier piece
    ],
)
def test_strings_without_a_piece_skip_the_glued_pass(text: str, free: bool) -> None:
    from sentinel.policy.glued import at_tokens, glued_digits
    from sentinel.policy.protect import _glue_free

    assert _glue_free(text) is free
    if free:  # the shortcut is exact: the pass would have found no piece either
        assert not list(glued_digits("x" + text + "x")) and not list(at_tokens(text))


@pytest.mark.parametrize(
    "text",
    ["ho_ten=Nguyễn Văn An", 'x"y=Nguyễn Văn An', "GET /tra-cuu?ho_ten=Nguyễn+Văn+An", "a=1&ho_ten=Nguyễn Văn An"],
)
def test_a_parameter_at_the_start_or_after_a_separator_is_read(protector, text: str) -> None:
    """The shortcut for texts without ``?``, ``&`` or ``;`` still reads a parameter that starts the text."""
    from sentinel.policy.protect import _Changes

    changes = _Changes()
    words = protector._params(text, changes)
    assert "Nguyễn Văn An" in words or "Nguyễn Văn An" in changes.values, text


def test_what_is_left_of_a_raw_line_has_no_parameter(protector) -> None:
    from sentinel.policy.protect import _Changes

    left = '          - - [20/Nov/2026:00:10:10 +0700] "GET            HTTP/1.1" 200 23574 rt=0.029 urt="0.028"'
    assert protector._params(left, _Changes()) == ()
