//! A tower layer that requires a permission before the handler runs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::{AuthRejection, AuthState};

/// Wraps routes in [`RequirePermission`]; made by [`AuthState::require`].
#[derive(Debug, Clone)]
pub struct RequirePermissionLayer {
    state: AuthState,
    permission: Arc<str>,
}

impl RequirePermissionLayer {
    /// Requires `permission` of every request, checked against `state`.
    pub fn new(state: AuthState, permission: &str) -> RequirePermissionLayer {
        RequirePermissionLayer {
            state,
            permission: Arc::from(permission),
        }
    }
}

impl<S> Layer<S> for RequirePermissionLayer {
    type Service = RequirePermission<S>;

    fn layer(&self, inner: S) -> RequirePermission<S> {
        RequirePermission {
            inner,
            state: self.state.clone(),
            permission: self.permission.clone(),
        }
    }
}

/// The service [`RequirePermissionLayer`] produces.
#[derive(Debug, Clone)]
pub struct RequirePermission<S> {
    inner: S,
    state: AuthState,
    permission: Arc<str>,
}

impl<S> Service<Request> for RequirePermission<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready serves this request.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        let permission = self.permission.clone();
        Box::pin(async move {
            let checked = match state.authenticate(request.headers()).await {
                Ok(principal) => state
                    .rbac()
                    .require(&principal, &permission)
                    .map(|()| principal),
                Err(err) => Err(err),
            };
            match checked {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(err) => Ok(AuthRejection(err).into_response()),
            }
        })
    }
}
