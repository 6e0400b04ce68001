//! Sessions: issuing token pairs, rotating refresh tokens, authenticating, logging out.

use super::tokens::{Principal, TokenError, TokenKind};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::{ClientInfo, DeviceId, SessionId, Tenant, TenantId, UserId};
use crate::ports::{NewSession, Revocation, Rotation, SessionScope, TokenSwap};
use serde_json::json;

/// The tokens a login or refresh hands out.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// REST access token.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub access_expires_in: i64,
    /// Refresh token, bound to `device`.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    /// WebSocket token.
    pub ws_token: String,
    /// Seconds until the WebSocket token expires.
    pub ws_expires_in: i64,
    /// The session these tokens belong to.
    pub session: SessionId,
    /// The device the session is bound to.
    pub device: DeviceId,
}

fn signing_failed(e: jsonwebtoken::errors::Error) -> AppError {
    AppError::internal(anyhow::anyhow!("token signing failed: {e}"))
}

impl App {
    /// Opens a session for a user who just proved who they are, and hands out its tokens.
    pub(super) async fn open_session(
        &self,
        tenant: &Tenant,
        user: UserId,
        device: DeviceId,
        amr: &[&str],
        client: Option<&ClientInfo>,
    ) -> AppResult<TokenPair> {
        let principal = Principal {
            tenant: tenant.id.clone(),
            user,
            session: SessionId::generate(),
            device,
        };
        let now = self.clock.now();
        let refresh = self
            .tokens
            .issue(TokenKind::Refresh, &principal, amr, now)
            .map_err(signing_failed)?;
        let session = NewSession {
            id: principal.session,
            user_id: user,
            device_id: principal.device.clone(),
            token_id: refresh.jti.clone(),
            created_at_ms: self.clock.now_ms(),
            expires_at_ms: refresh.expires_at.unix_timestamp() * 1000,
        };
        let audit = self.audit_entry(
            "login.succeeded",
            Some(user),
            client,
            json!({ "session": principal.session, "device": principal.device.as_str(), "amr": amr }),
        );
        self.store
            .start_session(&tenant.id, &session, &audit)
            .await?;
        self.pair(&principal, refresh, amr)
    }

    fn pair(
        &self,
        principal: &Principal,
        refresh: super::tokens::Issued,
        amr: &[&str],
    ) -> AppResult<TokenPair> {
        let now = self.clock.now();
        let access = self
            .tokens
            .issue(TokenKind::Access, principal, amr, now)
            .map_err(signing_failed)?;
        let ws = self
            .tokens
            .issue(TokenKind::WebSocket, principal, amr, now)
            .map_err(signing_failed)?;
        Ok(TokenPair {
            access_token: access.token,
            access_expires_in: access.expires_in,
            refresh_token: refresh.token,
            refresh_expires_in: refresh.expires_in,
            ws_token: ws.token,
            ws_expires_in: ws.expires_in,
            session: principal.session,
            device: principal.device.clone(),
        })
    }

    /// Exchanges a refresh token for a new set. The presented token stops working; presenting it
    /// again revokes the whole session (someone else has a copy).
    #[tracing::instrument(name = "refresh", skip_all, fields(tenant = %tenant.id))]
    pub async fn refresh(
        &self,
        tenant: &Tenant,
        refresh_token: &str,
        client: Option<&ClientInfo>,
    ) -> AppResult<TokenPair> {
        let invalid = || AppError::new(ErrorCode::InvalidRefreshToken, "invalid refresh token");
        let (principal, claims) = self
            .tokens
            .verify(TokenKind::Refresh, &tenant.id, refresh_token)
            .map_err(|_| invalid())?;
        let amr: Vec<&str> = claims.amr.iter().map(String::as_str).collect();
        let next = self
            .tokens
            .issue(TokenKind::Refresh, &principal, &amr, self.clock.now())
            .map_err(signing_failed)?;
        let on_reuse = self.audit_entry(
            "token.reused",
            Some(principal.user),
            client,
            json!({ "session": principal.session, "device": principal.device.as_str() }),
        );
        let rotation = self
            .store
            .rotate_session(
                &tenant.id,
                principal.session,
                TokenSwap {
                    presented: &claims.jti,
                    next: &next.jti,
                    now_ms: self.clock.now_ms(),
                    expires_at_ms: next.expires_at.unix_timestamp() * 1000,
                },
                &on_reuse,
            )
            .await?;
        match rotation {
            Rotation::Rotated => self.pair(&principal, next, &amr),
            Rotation::Reused => {
                tracing::warn!(tenant = %tenant.id, user = %principal.user,
                    session = %principal.session, "refresh token reused; session revoked");
                self.revocations.sessions_ended(&Revocation {
                    tenant: tenant.id.clone(),
                    user: principal.user,
                    scope: SessionScope::Session(principal.session),
                    reason: "session revoked: its refresh token was used twice".into(),
                });
                Err(AppError::new(
                    ErrorCode::RefreshTokenReused,
                    "this refresh token was already used; the session has been revoked",
                ))
            }
            Rotation::Invalid => Err(invalid()),
        }
    }

    /// Authenticates a bearer token of `kind` for `tenant`: it must verify, belong to this
    /// tenant, and its session must still be live (so logout takes effect at once).
    pub async fn authenticate(
        &self,
        tenant: &Tenant,
        kind: TokenKind,
        token: &str,
    ) -> AppResult<Principal> {
        self.authenticate_until(tenant, kind, token)
            .await
            .map(|(principal, _)| principal)
    }

    /// [`App::authenticate`], also returning when the token expires (Unix milliseconds): a live
    /// connection must not outlive the token it authenticated with.
    pub async fn authenticate_until(
        &self,
        tenant: &Tenant,
        kind: TokenKind,
        token: &str,
    ) -> AppResult<(Principal, i64)> {
        // Verified with this tenant's key: a token of another tenant (or signed with another
        // tenant's key) is invalid here.
        let (principal, claims) =
            self.tokens
                .verify(kind, &tenant.id, token)
                .map_err(|e| match e {
                    TokenError::Expired => AppError::new(ErrorCode::TokenExpired, "token expired"),
                    TokenError::Invalid => AppError::unauthenticated("invalid token"),
                })?;
        if !self
            .store
            .session_active(&tenant.id, principal.session, self.clock.now_ms())
            .await?
        {
            return Err(AppError::unauthenticated("session ended; log in again"));
        }
        Ok((principal, claims.exp.saturating_mul(1000)))
    }

    /// Of the sessions `principals` of a tenant authenticated with, those that ended since: a
    /// periodic check behind revocation, for connections a lost bus message did not reach.
    pub async fn ended_sessions(
        &self,
        tenant: &TenantId,
        sessions: &[SessionId],
    ) -> AppResult<Vec<SessionId>> {
        let live = self
            .store
            .live_sessions(tenant, sessions, self.clock.now_ms())
            .await?;
        Ok(sessions
            .iter()
            .filter(|session| !live.contains(session))
            .copied()
            .collect())
    }

    /// Ends the caller's session on this device, or on every device.
    pub async fn logout(
        &self,
        principal: &Principal,
        all_devices: bool,
        client: Option<&ClientInfo>,
    ) -> AppResult<u64> {
        let scope = if all_devices {
            SessionScope::All
        } else {
            SessionScope::Device(principal.device.clone())
        };
        let audit = self.audit_entry(
            if all_devices {
                "logout.all_devices"
            } else {
                "logout"
            },
            Some(principal.user),
            client,
            json!({ "device": principal.device.as_str() }),
        );
        let ended = self
            .store
            .end_sessions(
                &principal.tenant,
                principal.user,
                &scope,
                self.clock.now_ms(),
                &audit,
            )
            .await?;
        self.revocations.sessions_ended(&Revocation {
            tenant: principal.tenant.clone(),
            user: principal.user,
            scope,
            reason: "session ended: logged out".into(),
        });
        Ok(ended)
    }
}
