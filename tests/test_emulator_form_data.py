"""The local site's multipart/form-data parsing (PHP's ``$_POST``), against what the client sends."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatgpt_es.emulator.php import form_data
from stages.models import HttpRequest
from stages.payload import encode_body

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789[]", min_size=1, max_size=12)


@given(st.lists(st.tuples(names, st.text(max_size=60)), min_size=1, max_size=8))
def test_what_the_client_encodes_the_site_reads_back(form: list[tuple[str, str]]) -> None:
    try:
        "".join(v for _, v in form).encode()
    except UnicodeEncodeError:  # a lone surrogate cannot be sent (the prompt stage refuses it before)
        return
    request = HttpRequest(method="POST", url="u", purpose="cache", form=tuple(form), encoding="multipart")
    content_type, body = encode_body(request, "----WebKitFormBoundaryAbc")
    assert form_data(body, content_type) == dict(form)  # as PHP: the last field of a name wins


def test_file_parts_and_unreadable_bodies() -> None:
    body = (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'
            b'--B\r\nContent-Disposition: form-data; name="up"; filename="x.png"\r\nContent-Type: image/png\r\n\r\n'
            b'\x89PNG\r\n'
            b'--B\r\ncontent-disposition: form-data; name="b"\r\n\r\nline one\r\nline two\r\n'
            b'--B\r\nContent-Disposition: form-data; name="c"\r\n\r\n\xff\xfe\r\n'
            b'--B--\r\nafter the end\r\n')
    assert form_data(body, "multipart/form-data; boundary=B") == {"a": "1", "b": "line one\r\nline two"}
    assert form_data(body, 'multipart/form-data; boundary="B"') == {"a": "1", "b": "line one\r\nline two"}
    assert form_data(body, "multipart/form-data") is None  # no boundary: PHP reads nothing
