"""A signed-in test client for the desk's views: ``desk.get(...)``, ``desk.post(...)`` with
the session's CSRF token filled in unless a test leaves it out on purpose."""
import re

import pytest

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Desk:
    def __init__(self, client):
        self.client = client
        self.token = None

    def sign_in(self, key: str, follow: bool = False):
        page = self.client.get("/desk/sign-in")
        self.token = TOKEN.search(page.get_data(as_text=True)).group(1)
        response = self.client.post("/desk/sign-in", data={"api_key": key, "csrf_token": self.token},
                                    follow_redirects=follow)
        if response.status_code in (200, 303):
            fresh = self.client.get("/desk/patients")  # the token of the signed-in session
            match = TOKEN.search(fresh.get_data(as_text=True))
            self.token = match.group(1) if match else self.token
        return response

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kwargs)

    def text(self, path: str, **kwargs) -> str:
        response = self.client.get(path, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)[:2000]
        return response.get_data(as_text=True)


@pytest.fixture
def desk(client):
    return Desk(client)


@pytest.fixture
def signed_in(desk, keys):
    response = desk.sign_in(keys["front_desk"])
    assert response.status_code == 303
    return desk
