"""OpenID Connect bearer tokens: JWTs checked against the issuer's published keys (JWKS).

The signature, issuer, audience and expiry are all checked (PyJWT); the
Sentinel role comes from a claim, mapped through ``role_map`` so the identity
provider's group names need not match ours. A token whose role maps to nothing
is refused: deny by default.
"""

from __future__ import annotations

import jwt

from sentinel.config import OidcSettings
from sentinel.identity import ROLES, Principal


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
        role = next((self.cfg.role_map.get(v, v) for v in values if self.cfg.role_map.get(v, v) in ROLES), None)
        if role is None:
            return None
        name = str(claims.get(self.cfg.name_claim) or claims["sub"])
        province = claims.get(self.cfg.province_claim) if self.cfg.province_claim else None
        commune = claims.get(self.cfg.commune_claim) if self.cfg.commune_claim else None
        return Principal(name=name, role=role, province=province, commune=commune)
