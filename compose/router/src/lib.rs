//! The router in front of a pod of services (world `router`): it serves `wasi:http/handler` and
//! hands a request for `/NAME/rest` to the pod's guest NAME as a request for `/rest` (`/NAME` and
//! `/NAME?query` are its `/` and `/?query`). A request no guest's name begins is answered 404,
//! with the paths the pod serves.
//!
//! Guest number `i` is the import `guest-i`, and its name is the virt's `guests.names()[i]`, so
//! one built router serves every pod: `webgpu-virt plug` wires it.

wit_bindgen::generate!({
    path: "../../wit",
    world: "webgpu-virt:worlds/router",
    generate_all,
});

use exports::wasi::http::handler::Guest;
use wasi::http::types::{ErrorCode, Fields, Request, Response};
use webgpu_virt::worlds::guests;

struct Router;

export!(Router);

impl Guest for Router {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let target = request.get_path_with_query().unwrap_or_else(|| "/".into());
        let names = guests::names();
        let Some((guest, rest)) = route(&names, &target) else {
            let served: Vec<String> = names.iter().map(|name| format!("/{name}/")).collect();
            let message = format!("no guest serves {target}: this pod's guests are served under {}\n", served.join(", "));
            return Ok(not_found(message));
        };
        request.set_path_with_query(Some(&rest)).map_err(|()| ErrorCode::HttpRequestUriInvalid)?;
        forward(guest, request).await
    }
}

/// The guest `target` is for (its number) and the target as that guest sees it.
fn route(names: &[String], target: &str) -> Option<(usize, String)> {
    let rest = target.strip_prefix('/')?;
    let (name, rest) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let guest = names.iter().position(|n| n == name)?;
    Some((guest, if rest.starts_with('/') { rest.to_string() } else { format!("/{rest}") }))
}

/// Calls the handler of guest number `guest` (the plug wires no more than the imports).
async fn forward(guest: usize, request: Request) -> Result<Response, ErrorCode> {
    macro_rules! guests {
        ($($i:literal => $import:ident),*) => {
            match guest {
                $($i => $import::handle(request).await,)*
                _ => Err(ErrorCode::InternalError(Some(format!("the router has no import for guest number {guest}")))),
            }
        };
    }
    guests!(
        0 => guest_0, 1 => guest_1, 2 => guest_2, 3 => guest_3, 4 => guest_4, 5 => guest_5, 6 => guest_6, 7 => guest_7,
        8 => guest_8, 9 => guest_9, 10 => guest_10, 11 => guest_11, 12 => guest_12, 13 => guest_13, 14 => guest_14, 15 => guest_15
    )
}

/// A 404 whose body is `message`, written by a task of its own once the runtime reads it.
fn not_found(message: String) -> Response {
    let headers = Fields::new();
    // A fixed, valid header: appending it to new fields cannot fail.
    let _ = headers.append("content-type", b"text/plain; charset=utf-8");
    let (mut writer, contents) = wit_stream::new::<u8>();
    let (_trailers, trailers) = wit_future::new::<Result<Option<Fields>, ErrorCode>>(|| Ok(None));
    let (response, _sent) = Response::new(headers, Some(contents), trailers);
    let _ = response.set_status_code(404);
    wit_bindgen::spawn_local(async move {
        writer.write_all(message.into_bytes()).await;
    });
    response
}
