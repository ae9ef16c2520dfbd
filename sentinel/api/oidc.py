"""OpenID Connect bearer tokens: JWTs checked against the issuer's published keys (JWKS).

The signature, issuer, audience and expiry are all checked (PyJWT); the
Sentinel role comes from a claim, mapped through ``role_map`` so the identity
provider's group names need not match ours. Only ``role_map`` grants a role (a
group named ``admin`` is not the admin role unless the map says so), and a token
whose groups map to nothing is refused: deny by default. The province and
commune claims must be names of the 2025 gazetteer; a token without a province
claim is refused unless ``claimless_national`` says such users are national.
"""

from __future__ import annotations

import logging

import jwt

from sentinel.config import OidcSettings
from sentinel.identity import ROLES, Principal
from sentinel.places import UnknownPlace, check_scope

log = logging.getLogger(__name__)


class OidcValidator:
    def __init__(self, cfg: OidcSettings) -> None:
        self.cfg = cfg
        jwks_url = cfg.jwks_url or cfg.issuer.rstrip("/") + "/.well-known/jwks.json"
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def principal(self, token: str) -> Principal | None:
        """The caller named by a valid token, or None (bad signature, wrong issuer/audience, expired, no role)."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=self.cfg.algorithms,
                audience=self.cfg.audience,
                issuer=self.cfg.issuer,
                options={"require": ["exp", "iss", "sub"]},
                leeway=30,
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError):
            return None
        values = claims.get(self.cfg.roles_claim) or []
        if isinstance(values, str):
            values = [values]
        mapped = (self.cfg.role_map.get(v) for v in values if isinstance(v, str))
        role = next((r for r in mapped if r in ROLES), None)
        if role is None:
            return None
        name = str(claims.get(self.cfg.name_claim) or claims["sub"])
        province = _claim(claims, self.cfg.province_claim)
        commune = _claim(claims, self.cfg.commune_claim)
        if province is None and (commune is not None or not self.cfg.claimless_national):
            log.warning("OIDC token of %s refused: no province claim (set claimless_national for national staff)", name)
            return None
        try:
            check_scope(province, commune)
        except UnknownPlace as exc:
            log.warning("OIDC token of %s refused: %s", name, exc)
            return None
        return Principal(name=name, role=role, province=province, commune=commune)


def _claim(claims: dict, name: str | None) -> str | None:
    value = claims.get(name) if name else None
    return (value.strip() or None) if isinstance(value, str) else None
