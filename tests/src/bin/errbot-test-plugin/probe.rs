//! `!storage_probe NAMESPACE KEY`: tries every way a plugin could reach another namespace's
//! `KEY` through StorageService, with raw gRPC calls (not the SDK), and reports what each got.
//! The end-to-end test checks that none of them saw or changed the other namespace.

use std::fmt::Write as _;

use errbot_proto::contract::{ChildEnv, TOKEN_HEADER};
use errbot_proto::v1;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic_prost::ProstCodec;

/// A Get request with extra fields a naive server might read as a namespace.
#[derive(Clone, PartialEq, prost::Message)]
struct ForgedGet {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    namespace: String,
    #[prost(string, tag = "3")]
    plugin: String,
    #[prost(string, tag = "4")]
    owner: String,
    #[prost(string, tag = "99")]
    token: String,
}

/// A Set request with the same extra fields (after the real ones).
#[derive(Clone, PartialEq, prost::Message)]
struct ForgedSet {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value_json: String,
    #[prost(string, tag = "4")]
    namespace: String,
    #[prost(string, tag = "5")]
    plugin: String,
    #[prost(string, tag = "99")]
    token: String,
}

fn request<T>(message: T, tokens: &[&str], extra: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    for t in tokens {
        if let Ok(v) = MetadataValue::try_from(*t) {
            r.metadata_mut().append(TOKEN_HEADER, v);
        }
    }
    for (k, v) in extra {
        if let Ok(v) = MetadataValue::try_from(*v) {
            r.metadata_mut().insert(*k, v);
        }
    }
    r
}

async fn call<Q, R>(
    channel: &Channel,
    method: &'static str,
    req: tonic::Request<Q>,
) -> Result<R, tonic::Status>
where
    Q: prost::Message + Send + Sync + 'static,
    R: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::from_static(method);
    grpc.unary(req, path, ProstCodec::<Q, R>::default())
        .await
        .map(tonic::Response::into_inner)
}

const GET: &str = "/errbot.v1.StorageService/Get";
const SET: &str = "/errbot.v1.StorageService/Set";
const KEYS: &str = "/errbot.v1.StorageService/Keys";

fn show_get(r: Result<v1::StorageGetResponse, tonic::Status>) -> String {
    match r {
        Ok(g) if g.found => format!("found {}", g.value_json),
        Ok(_) => "not found".into(),
        Err(s) => format!("refused {:?}", s.code()),
    }
}

/// Runs every attempt; one line per attempt: `attempt => outcome`.
pub async fn run(namespace: &str, key: &str) -> Result<String, Box<dyn std::error::Error>> {
    let env = ChildEnv::from_env()?;
    let channel = errbot_proto::transport::channel(&env.bot_socket)?;
    let own = env.token.as_str();
    let mut out = String::new();

    // Keys that try to name the other namespace.
    let disguises = [
        key.to_owned(),
        format!("{namespace}/{key}"),
        format!("../{namespace}/{key}"),
        format!("/{namespace}/{key}"),
        format!("{namespace}:{key}"),
        format!("{namespace}.{key}"),
        format!("{namespace}\u{0}{key}"),
        format!("core/{key}"),
        "bl_plugins".to_owned(),
        "%".to_owned(),
    ];
    for k in &disguises {
        let r = call(
            &channel,
            GET,
            request(v1::StorageGetRequest { key: k.clone() }, &[own], &[]),
        )
        .await;
        writeln!(out, "get {k:?} => {}", show_get(r))?;
    }
    let r: Result<v1::StorageKeysResponse, _> = call(
        &channel,
        KEYS,
        request(
            v1::StorageKeysRequest {
                prefix: String::new(),
            },
            &[own],
            &[],
        ),
    )
    .await;
    writeln!(out, "keys => {:?}", r.map(|k| k.keys).map_err(|s| s.code()))?;

    // Extra fields in the request body.
    let forged = ForgedGet {
        key: key.to_owned(),
        namespace: namespace.to_owned(),
        plugin: namespace.to_owned(),
        owner: namespace.to_owned(),
        token: namespace.to_owned(),
    };
    let r = call(&channel, GET, request(forged, &[own], &[])).await;
    writeln!(out, "forged get => {}", show_get(r))?;
    let forged = ForgedSet {
        key: key.to_owned(),
        value_json: "\"overwritten by the probe\"".to_owned(),
        namespace: namespace.to_owned(),
        plugin: namespace.to_owned(),
        token: namespace.to_owned(),
    };
    let r: Result<v1::StorageSetResponse, _> =
        call(&channel, SET, request(forged, &[own], &[])).await;
    writeln!(
        out,
        "forged set => {:?}",
        r.map(|s| s.written).map_err(|s| s.code())
    )?;

    // Extra or forged metadata.
    let get = || v1::StorageGetRequest {
        key: key.to_owned(),
    };
    let extra = [
        ("x-errbot-namespace", namespace),
        ("x-errbot-plugin", namespace),
    ];
    let r = call(&channel, GET, request(get(), &[own], &extra)).await;
    writeln!(out, "namespace headers => {}", show_get(r))?;
    let r = call(&channel, GET, request(get(), &[], &[])).await;
    writeln!(out, "no token => {}", show_get(r))?;
    let r = call(&channel, GET, request(get(), &[namespace], &[])).await;
    writeln!(out, "name as token => {}", show_get(r))?;
    let r = call(&channel, GET, request(get(), &["0000000000000000"], &[])).await;
    writeln!(out, "guessed token => {}", show_get(r))?;
    let r = call(&channel, GET, request(get(), &[own, namespace], &[])).await;
    writeln!(out, "two tokens => {}", show_get(r))?;
    Ok(out)
}
