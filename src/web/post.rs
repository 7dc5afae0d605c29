//! `FormPost`: a signed-in user's form post, its CSRF token already checked. Every post
//! handler of a signed-in page takes one instead of repeating the prelude (resolve the
//! session, read the form, compare its token with the session's).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::csrf::FormData;
use super::session::WebUser;

/// A form posted by the signed-in `user`, whose token matched the session's (else a 403
/// page; signed out, the sign-in redirect; an unreadable form, a 400 page).
#[derive(Debug)]
pub struct FormPost {
    pub user: WebUser,
    pub form: FormData,
}

impl FromRequest for FormPost {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // In the order the handlers extracted them: the session first, then the body.
        let user = WebUser::from_request(req, &mut Payload::None);
        let form = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            let form = FormData(form.await?.into_inner());
            user.check(&form)?;
            Ok(FormPost { user, form })
        })
    }
}
