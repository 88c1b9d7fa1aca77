//! Procedural macros of `errbot-plugin-sdk`. Use them through that crate, which documents them.
//!
//! [`macro@plugin`] reads the whole `impl` block: the `#[command]`, `#[re_command]`, `#[arg]`,
//! `#[activate]`, `#[deactivate]`, `#[check_config]`, `#[callback]`, `#[cmd_filter]` and
//! `#[poller]` attributes inside it are
//! consumed there, so the other attribute macros of this crate only exist to report their misuse
//! outside a `#[plugin]` block.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, FnArg, GenericArgument, ImplItem, ImplItemFn, ItemImpl, Lit, LitStr,
    Meta, Pat, PathArguments, Token, Type,
};

/// Turns an `impl` block into an errbot plugin; see the `errbot-plugin-sdk` crate documentation.
#[proc_macro_attribute]
pub fn plugin(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into()).into()
}

fn misplaced(name: &str, item: TokenStream) -> TokenStream {
    let message = format!(
        "#[{name}] only works on a method inside an `impl` block marked #[plugin] \
         (and `#[plugin]` must come first)"
    );
    let item = TokenStream2::from(item);
    quote!(::core::compile_error!(#message); #item).into()
}

/// Marks a method as a plain command (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn command(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("command", item)
}

/// Marks a method as a regex command (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn re_command(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("re_command", item)
}

/// Marks the activation hook (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn activate(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("activate", item)
}

/// Marks the deactivation hook (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn deactivate(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("deactivate", item)
}

/// Marks the configuration check (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn check_config(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("check_config", item)
}

/// Marks a callback handler (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn callback(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("callback", item)
}

/// Marks a command filter (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn cmd_filter(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("cmd_filter", item)
}

/// Marks a poller method (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn poller(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("poller", item)
}

/// Marks a webhook handler (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn webhook(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("webhook", item)
}

/// Marks a method that declares a conversation flow (inside a `#[plugin]` impl block).
#[proc_macro_attribute]
pub fn flow(_attr: TokenStream, item: TokenStream) -> TokenStream {
    misplaced("flow", item)
}

/// Collects several errors so that one compilation reports them all.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }
    fn into_tokens(self) -> TokenStream2 {
        self.0.map(|e| e.to_compile_error()).unwrap_or_default()
    }
}

fn expand(attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let mut options = PluginOptions::default();
    let parser = syn::meta::parser(|meta| options.parse(&meta));
    if let Err(e) = syn::parse::Parser::parse2(parser, attr) {
        errors.push(e);
    }
    let mut imp: ItemImpl = match syn::parse2(item.clone()) {
        Ok(imp) => imp,
        Err(e) => {
            let e = syn::Error::new(
                e.span(),
                "#[plugin] goes on an `impl YourPlugin { ... }` block",
            );
            return quote!(#item)
                .into_iter()
                .chain(e.to_compile_error())
                .collect();
        }
    };
    if let Some((_, path, _)) = &imp.trait_ {
        errors.at(
            path.span(),
            "#[plugin] goes on an inherent `impl YourPlugin { ... }` block",
        );
    }

    let mut model = Model::default();
    for item in &mut imp.items {
        if let ImplItem::Fn(f) = item {
            read_method(f, &mut model, &mut errors);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for c in &model.commands {
        if !seen.insert(c.name.clone()) {
            errors.at(c.span, format!("two commands are named {:?}", c.name));
        }
    }

    let generated = generate(&imp, &options, &model);
    let errors = errors.into_tokens();
    quote! {
        #imp
        #generated
        #errors
    }
}

#[derive(Default)]
struct PluginOptions {
    name: Option<LitStr>,
    version: Option<LitStr>,
    description: Option<LitStr>,
    config_template: Option<LitStr>,
    depends_on: Vec<LitStr>,
}

impl PluginOptions {
    fn parse(&mut self, meta: &ParseNestedMeta) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.unraw().to_string())
            .unwrap_or_default();
        match key.as_str() {
            "name" => self.name = Some(meta.value()?.parse()?),
            "version" => self.version = Some(meta.value()?.parse()?),
            "description" => self.description = Some(meta.value()?.parse()?),
            "config_template" => self.config_template = Some(meta.value()?.parse()?),
            "depends_on" => self.depends_on = string_list(meta)?,
            _ => {
                return Err(meta.error(
                    "unknown #[plugin] option; expected name, version, description, \
                     config_template or depends_on",
                ));
            }
        }
        Ok(())
    }
}

/// `key = ["a", "b"]` (a single `"a"` is accepted too).
fn string_list(meta: &ParseNestedMeta) -> syn::Result<Vec<LitStr>> {
    let expr: Expr = meta.value()?.parse()?;
    let items = match expr {
        Expr::Array(array) => array.elems.into_iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|e| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s),
            other => Err(syn::Error::new(other.span(), "expected a string literal")),
        })
        .collect()
}

/// `key` alone (true) or `key = true/false`.
fn flag_value(meta: &ParseNestedMeta) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) {
        let value: syn::LitBool = meta.value()?.parse()?;
        Ok(value.value)
    } else {
        Ok(true)
    }
}

/// `key = literal` as text (strings, numbers, booleans, characters).
fn literal_text(meta: &ParseNestedMeta) -> syn::Result<String> {
    let lit: Lit = meta.value()?.parse()?;
    Ok(match &lit {
        Lit::Str(s) => s.value(),
        Lit::Int(i) => i.base10_digits().to_owned(),
        Lit::Float(f) => f.base10_digits().to_owned(),
        Lit::Bool(b) => b.value.to_string(),
        Lit::Char(c) => c.value().to_string(),
        _ => return Err(syn::Error::new(lit.span(), "expected a literal value")),
    })
}

#[derive(Default)]
struct Model {
    commands: Vec<Command>,
    activate: Option<Hook>,
    deactivate: Option<Hook>,
    check_config: Option<Hook>,
    callbacks: Vec<(Vec<CallbackName>, Hook)>,
    filters: Vec<FilterMethod>,
    pollers: Vec<PollerMethod>,
    webhooks: Vec<WebhookMethod>,
    flows: Vec<FlowMethod>,
}

/// A `#[flow]` method: the flow's name and description, and the method that builds it.
struct FlowMethod {
    name: String,
    description: String,
    method: syn::Ident,
}

/// A `#[webhook]` method: its URL rule, methods, body kind and the method.
struct WebhookMethod {
    name: String,
    rule: String,
    methods: Vec<String>,
    body: String,
    span: Span,
    hook: Hook,
}

/// A `#[poller]` method: the name it is started under, and the method.
struct PollerMethod {
    name: String,
    span: Span,
    hook: Hook,
}

/// A `#[cmd_filter]` method: its declared name, help and the method.
struct FilterMethod {
    name: String,
    help: String,
    catch_unprocessed: bool,
    hook: Hook,
}

/// A lifecycle hook or callback: the method and whether it takes its argument.
struct Hook {
    method: syn::Ident,
    is_async: bool,
    takes_arg: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct CallbackName(&'static str, &'static str);

const CALLBACKS: &[CallbackName] = &[
    CallbackName("connect", "Connect"),
    CallbackName("message", "Message"),
    CallbackName("mention", "Mention"),
    CallbackName("presence", "Presence"),
    CallbackName("reaction", "Reaction"),
    CallbackName("room_joined", "RoomJoined"),
    CallbackName("room_left", "RoomLeft"),
    CallbackName("room_topic", "RoomTopic"),
    CallbackName("bot_message", "BotMessage"),
    CallbackName("unhandled", "Unhandled"),
];

struct Command {
    name: String,
    span: Span,
    method: syn::Ident,
    is_async: bool,
    help: String,
    hidden: bool,
    admin_only: bool,
    historize: bool,
    flow_only: bool,
    syntax: String,
    template: String,
    kind: Kind,
    inputs: Vec<Input>,
}

enum Kind {
    Plain {
        mode: ArgMode,
        separator: String,
        max_split: u32,
    },
    Regex(Regex),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ArgMode {
    Raw,
    Split,
    Shell,
}

struct Regex {
    pattern: String,
    case_insensitive: bool,
    dot_all: bool,
    multi_line: bool,
    match_all: bool,
    prefixed: bool,
}

/// What one method parameter receives.
enum Input {
    Context,
    Args { by_ref: bool },
    Match,
    Matches,
    Param(Box<Param>),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Single,
    Optional,
    Multiple,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParamType {
    String,
    Integer,
    Float,
    Boolean,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParamKind {
    Positional,
    Option,
    Flag,
}

struct Param {
    name: String,
    span: Span,
    help: String,
    ty: ParamType,
    kind: ParamKind,
    shape: Shape,
    required: bool,
    long: String,
    short: String,
    choices: Vec<String>,
    default: String,
    rest: bool,
    /// The element type (inside `Option`/`Vec`); `None` for `&str`.
    elem: Option<Type>,
}

/// The text of the `#[doc]` attributes: common indentation removed, outer blank lines trimmed.
fn doc_of(attrs: &[Attribute]) -> String {
    let mut text = String::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
        {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&s.value());
        }
    }
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect();
    lines.join("\n").trim_matches('\n').to_owned()
}

/// Which of our attributes marks a method.
enum Role {
    Command(Attribute),
    ReCommand(Attribute),
    Activate(Attribute),
    Deactivate(Attribute),
    CheckConfig(Attribute),
    Callback(Attribute),
    CmdFilter(Attribute),
    Poller(Attribute),
    Webhook(Attribute),
    Flow(Attribute),
}

const ROLE_NAMES: &[&str] = &[
    "command",
    "re_command",
    "activate",
    "deactivate",
    "check_config",
    "callback",
    "cmd_filter",
    "poller",
    "webhook",
    "flow",
];

fn take_roles(attrs: &mut Vec<Attribute>) -> Vec<Role> {
    let mut roles = Vec::new();
    attrs.retain(|attr| {
        let Some(ident) = attr.path().get_ident() else {
            return true;
        };
        let role = match ident.to_string().as_str() {
            "command" => Role::Command(attr.clone()),
            "re_command" => Role::ReCommand(attr.clone()),
            "activate" => Role::Activate(attr.clone()),
            "deactivate" => Role::Deactivate(attr.clone()),
            "check_config" => Role::CheckConfig(attr.clone()),
            "callback" => Role::Callback(attr.clone()),
            "cmd_filter" => Role::CmdFilter(attr.clone()),
            "poller" => Role::Poller(attr.clone()),
            "webhook" => Role::Webhook(attr.clone()),
            "flow" => Role::Flow(attr.clone()),
            _ => return true,
        };
        roles.push(role);
        false
    });
    roles
}

fn read_method(f: &mut ImplItemFn, model: &mut Model, errors: &mut Errors) {
    let mut roles = take_roles(&mut f.attrs);
    if roles.is_empty() {
        // A helper method; `#[arg]` makes no sense there.
        for input in &mut f.sig.inputs {
            if let FnArg::Typed(pt) = input
                && let Some(attr) = pt.attrs.iter().find(|a| a.path().is_ident("arg"))
            {
                errors.at(
                    attr.span(),
                    "#[arg] only applies to parameters of a #[command]",
                );
                pt.attrs.retain(|a| !a.path().is_ident("arg"));
            }
        }
        return;
    }
    if roles.len() > 1 {
        errors.at(
            f.sig.ident.span(),
            format!(
                "a method can have only one of #[{}]",
                ROLE_NAMES.join("], #[")
            ),
        );
    }
    let role = roles.remove(0);
    match &f.sig.inputs.first() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        _ => {
            errors.at(
                f.sig.span(),
                "plugin methods take `&self` (the plugin is shared by concurrent commands; \
                 keep mutable state in a Mutex or atomics)",
            );
            return;
        }
    }
    let is_async = f.sig.asyncness.is_some();
    match role {
        Role::Command(attr) | Role::ReCommand(attr) => {
            if let Some(command) = read_command(f, &attr, is_async, errors) {
                model.commands.push(command);
            }
        }
        Role::Activate(attr) => {
            set_hook(
                &mut model.activate,
                hook(f, &attr, "ActivateContext", errors),
                &attr,
                errors,
            );
        }
        Role::Deactivate(attr) => {
            let h = hook(f, &attr, "", errors);
            set_hook(&mut model.deactivate, h, &attr, errors);
        }
        Role::CheckConfig(attr) => {
            let h = hook(f, &attr, "Value", errors);
            set_hook(&mut model.check_config, h, &attr, errors);
        }
        Role::Callback(attr) => {
            let mut kinds = Vec::new();
            let parsed = attr.parse_nested_meta(|meta| {
                let name = meta
                    .path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                match CALLBACKS.iter().find(|c| c.0 == name) {
                    Some(c) => {
                        kinds.push(*c);
                        Ok(())
                    }
                    None => Err(meta.error(format!(
                        "unknown callback; expected one of: {}",
                        CALLBACKS.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
                    ))),
                }
            });
            if let Err(e) = parsed {
                errors.push(e);
            }
            if kinds.is_empty() {
                errors.at(attr.span(), "name the callback: #[callback(message)]");
            }
            if let Some(h) = hook(f, &attr, "Event", errors) {
                model.callbacks.push((kinds, h));
            }
        }
        Role::CmdFilter(attr) => {
            let mut name = f.sig.ident.unraw().to_string();
            let mut catch_unprocessed = false;
            if !matches!(attr.meta, Meta::Path(_)) {
                let parsed = attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("name") {
                        name = meta.value()?.parse::<LitStr>()?.value();
                        Ok(())
                    } else if meta.path.is_ident("catch_unprocessed") {
                        catch_unprocessed = flag_value(&meta)?;
                        Ok(())
                    } else {
                        Err(meta.error(
                            "unknown option; expected `name = \"...\"` or `catch_unprocessed`",
                        ))
                    }
                });
                if let Err(e) = parsed {
                    errors.push(e);
                }
            }
            if model.filters.iter().any(|m| m.name == name) {
                errors.at(
                    attr.span(),
                    format!("two command filters are named {name:?}"),
                );
            }
            if let Some(hook) = hook(f, &attr, "CommandCall", errors) {
                model.filters.push(FilterMethod {
                    name,
                    help: doc_of(&f.attrs),
                    catch_unprocessed,
                    hook,
                });
            }
        }
        Role::Poller(attr) => {
            let name = name_option(&attr, f, errors);
            if name.trim().is_empty() {
                errors.at(attr.span(), "the poller name is empty");
            }
            if model.pollers.iter().any(|p| p.name == name) {
                errors.at(attr.span(), format!("two pollers are named {name:?}"));
            }
            if let Some(hook) = hook(f, &attr, "PollContext", errors) {
                model.pollers.push(PollerMethod {
                    name,
                    span: f.sig.ident.span(),
                    hook,
                });
            }
        }
        Role::Flow(attr) => {
            let name = name_option(&attr, f, errors);
            if name.trim().is_empty() || name.chars().any(char::is_whitespace) {
                errors.at(attr.span(), "a flow's name is one word");
            }
            if model.flows.iter().any(|w| w.name == name) {
                errors.at(attr.span(), format!("two flows are named {name:?}"));
            }
            if is_async || f.sig.inputs.len() != 2 {
                errors.at(
                    f.sig.span(),
                    "a #[flow] method is `fn name(&self, flow: &mut Flow)` (not async)",
                );
                return;
            }
            model.flows.push(FlowMethod {
                name,
                description: doc_of(&f.attrs),
                method: f.sig.ident.clone(),
            });
        }
        Role::Webhook(attr) => match webhook_options(&attr, f.sig.ident.unraw().to_string()) {
            Err(e) => errors.push(e),
            Ok(mut webhook) => {
                if model.webhooks.iter().any(|w| w.name == webhook.name) {
                    errors.at(
                        attr.span(),
                        format!("two webhooks are named {:?}", webhook.name),
                    );
                }
                if model.webhooks.iter().any(|w| w.rule == webhook.rule) {
                    errors.at(
                        attr.span(),
                        format!("two webhooks serve {:?}", webhook.rule),
                    );
                }
                if let Some(hook) = hook(f, &attr, "WebhookRequest", errors) {
                    webhook.hook = hook;
                    webhook.span = f.sig.ident.span();
                    model.webhooks.push(webhook);
                }
            }
        },
    }
}

/// The `name = "..."` option of `#[poller]` and `#[flow]`; by default the method's name.
fn name_option(attr: &Attribute, f: &ImplItemFn, errors: &mut Errors) -> String {
    let mut name = f.sig.ident.unraw().to_string();
    if !matches!(attr.meta, Meta::Path(_)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("unknown option; expected `name = \"...\"`"))
            }
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    name
}

/// `#[webhook("/rule")]` or `#[webhook("/rule", methods = ["POST", "GET"], body = "raw",
/// name = "...")]`.
fn webhook_options(attr: &Attribute, default_name: String) -> syn::Result<WebhookMethod> {
    use syn::parse::ParseStream;
    let mut rule = String::new();
    let mut methods = Vec::new();
    let mut body = "json".to_owned();
    let mut name = default_name;
    attr.parse_args_with(|input: ParseStream| {
        if input.peek(LitStr) {
            rule = input.parse::<LitStr>()?.value();
            if !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            input.parse::<syn::Token![=]>()?;
            match key.to_string().as_str() {
                "path" => rule = input.parse::<LitStr>()?.value(),
                "name" => name = input.parse::<LitStr>()?.value(),
                "body" => {
                    let lit = input.parse::<LitStr>()?;
                    body = lit.value();
                    if !matches!(body.as_str(), "json" | "form" | "raw") {
                        return Err(syn::Error::new(
                            lit.span(),
                            "body is \"json\", \"form\" or \"raw\"",
                        ));
                    }
                }
                "methods" => {
                    let list;
                    syn::bracketed!(list in input);
                    let items = list.parse_terminated(|i| i.parse::<LitStr>(), syn::Token![,])?;
                    methods = items.iter().map(|m| m.value().to_uppercase()).collect();
                }
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        "unknown option; expected a path, `methods = [...]`, `body = \"...\"` \
                         or `name = \"...\"`",
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<syn::Token![,]>()?;
            }
        }
        Ok(())
    })?;
    if !rule.starts_with('/') {
        return Err(syn::Error::new(
            attr.span(),
            "the webhook's path starts with `/`: #[webhook(\"/hooks/github\")]",
        ));
    }
    Ok(WebhookMethod {
        name,
        rule,
        methods,
        body,
        span: attr.span(),
        hook: Hook {
            method: format_ident!("_unused"),
            is_async: false,
            takes_arg: false,
        },
    })
}

fn set_hook(slot: &mut Option<Hook>, hook: Option<Hook>, attr: &Attribute, errors: &mut Errors) {
    if slot.is_some() {
        errors.at(attr.span(), "only one method may have this attribute");
    }
    if hook.is_some() {
        *slot = hook;
    }
}

/// A hook method: `&self` and at most one argument (of the type named `arg`, by reference).
fn hook(f: &ImplItemFn, attr: &Attribute, arg: &str, errors: &mut Errors) -> Option<Hook> {
    if !matches!(attr.meta, Meta::Path(_))
        && !attr.path().is_ident("callback")
        && !attr.path().is_ident("cmd_filter")
        && !attr.path().is_ident("poller")
        && !attr.path().is_ident("webhook")
    {
        errors.at(attr.span(), "this attribute takes no options");
    }
    let extra: Vec<_> = f.sig.inputs.iter().skip(1).collect();
    let takes_arg = match extra.as_slice() {
        [] => false,
        [FnArg::Typed(pt)] if !arg.is_empty() => {
            if !matches!(&*pt.ty, Type::Reference(_)) {
                errors.at(pt.ty.span(), format!("expected `&{arg}`"));
            }
            true
        }
        _ => {
            let expected = if arg.is_empty() {
                "only `&self`".to_owned()
            } else {
                format!("`&self` and optionally `&{arg}`")
            };
            errors.at(f.sig.inputs.span(), format!("this method takes {expected}"));
            return None;
        }
    };
    Some(Hook {
        method: f.sig.ident.clone(),
        is_async: f.sig.asyncness.is_some(),
        takes_arg,
    })
}

fn read_command(
    f: &mut ImplItemFn,
    attr: &Attribute,
    is_async: bool,
    errors: &mut Errors,
) -> Option<Command> {
    let regex = attr.path().is_ident("re_command");
    let mut name: Option<String> = None;
    let mut hidden = false;
    let mut admin_only = false;
    let mut historize = true;
    let mut flow_only = false;
    let mut syntax = String::new();
    let mut template = String::new();
    let mut mode = ArgMode::Raw;
    let mut separator = String::new();
    let mut max_split = 0u32;
    let mut pattern: Option<String> = None;
    let mut re = Regex {
        pattern: String::new(),
        case_insensitive: false,
        dot_all: false,
        multi_line: false,
        match_all: false,
        prefixed: true,
    };
    if !matches!(attr.meta, Meta::Path(_)) {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.unraw().to_string())
                .unwrap_or_default();
            match key.as_str() {
                "name" => name = Some(meta.value()?.parse::<LitStr>()?.value()),
                "hidden" => hidden = flag_value(&meta)?,
                "admin_only" => admin_only = flag_value(&meta)?,
                "historize" => historize = flag_value(&meta)?,
                "flow_only" => flow_only = flag_value(&meta)?,
                "syntax" => syntax = meta.value()?.parse::<LitStr>()?.value(),
                "template" => template = meta.value()?.parse::<LitStr>()?.value(),
                "split" if !regex => {
                    mode = ArgMode::Split;
                    if meta.input.peek(Token![=]) {
                        separator = meta.value()?.parse::<LitStr>()?.value();
                    }
                }
                "max_split" if !regex => {
                    max_split = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?;
                }
                "shell" if !regex => mode = ArgMode::Shell,
                "raw" if !regex => mode = ArgMode::Raw,
                "pattern" if regex => pattern = Some(meta.value()?.parse::<LitStr>()?.value()),
                "case_insensitive" if regex => re.case_insensitive = flag_value(&meta)?,
                "dot_all" if regex => re.dot_all = flag_value(&meta)?,
                "multi_line" if regex => re.multi_line = flag_value(&meta)?,
                "match_all" if regex => re.match_all = flag_value(&meta)?,
                "prefixed" if regex => re.prefixed = flag_value(&meta)?,
                _ => {
                    let expected = if regex {
                        "pattern, case_insensitive, dot_all, multi_line, match_all, prefixed, \
                         name, hidden, admin_only, historize, flow_only, syntax or template"
                    } else {
                        "name, hidden, admin_only, historize, flow_only, syntax, template, \
                         split, max_split, shell or raw"
                    };
                    return Err(meta.error(format!("unknown option; expected {expected}")));
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    if max_split > 0 && mode != ArgMode::Split {
        errors.at(attr.span(), "max_split needs `split` or `split = \"sep\"`");
    }
    let kind = if regex {
        match pattern {
            Some(p) => {
                re.pattern = p;
                Kind::Regex(re)
            }
            None => {
                errors.at(attr.span(), "a regex command needs `pattern = \"...\"`");
                return None;
            }
        }
    } else {
        Kind::Plain {
            mode,
            separator,
            max_split,
        }
    };

    let method = f.sig.ident.clone();
    let name = name
        .map(|n| n.split_whitespace().collect::<Vec<_>>().join("_"))
        .unwrap_or_else(|| method.unraw().to_string());
    if name.is_empty() {
        errors.at(attr.span(), "the command name is empty");
    }

    let mut inputs = Vec::new();
    for input in f.sig.inputs.iter_mut().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        let arg_attrs: Vec<Attribute> = pt
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("arg"))
            .cloned()
            .collect();
        pt.attrs.retain(|a| !a.path().is_ident("arg"));
        if let Some(input) = read_input(&pt.pat, &pt.ty, &arg_attrs, errors) {
            inputs.push(input);
        }
    }
    // Parameters are the command's declared parameters: as many as the command needs.
    f.attrs
        .push(syn::parse_quote!(#[allow(clippy::too_many_arguments)]));
    let mut command = Command {
        name,
        span: method.span(),
        method,
        is_async,
        help: doc_of(&f.attrs),
        hidden,
        admin_only,
        historize,
        flow_only,
        syntax,
        template,
        kind,
        inputs,
    };
    check_inputs(&mut command, errors);
    Some(command)
}

fn unwrap_group(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => unwrap_group(&g.elem),
        Type::Paren(p) => unwrap_group(&p.elem),
        other => other,
    }
}

/// The last path segment of a plain path type: its name and generic arguments.
fn last_segment(ty: &Type) -> Option<(String, &PathArguments)> {
    match unwrap_group(ty) {
        Type::Path(p) if p.qself.is_none() => p
            .path
            .segments
            .last()
            .map(|s| (s.ident.to_string(), &s.arguments)),
        _ => None,
    }
}

fn single_type_arg(args: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(a) = args else {
        return None;
    };
    let mut types = a.args.iter().filter_map(|g| match g {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let first = types.next()?;
    types.next().is_none().then_some(first)
}

fn is_str_ref(ty: &Type) -> bool {
    matches!(unwrap_group(ty), Type::Reference(r) if r.mutability.is_none()
        && last_segment(&r.elem).is_some_and(|(n, _)| n == "str"))
}

fn read_input(pat: &Pat, ty: &Type, arg_attrs: &[Attribute], errors: &mut Errors) -> Option<Input> {
    let ty = unwrap_group(ty);
    // Special types first.
    let special = match ty {
        Type::Reference(r) => match unwrap_group(&r.elem) {
            Type::Slice(s) if last_segment(&s.elem).is_some_and(|(n, _)| n == "Match") => {
                Some(Input::Matches)
            }
            elem => match last_segment(elem).map(|(n, _)| n).as_deref() {
                Some("Context") => Some(Input::Context),
                Some("Match") => Some(Input::Match),
                Some("Args") => Some(Input::Args { by_ref: true }),
                Some(other @ ("ActivateContext" | "Event")) => {
                    errors.at(
                        ty.span(),
                        format!("commands do not receive `{other}`; did you mean `&Context`?"),
                    );
                    return None;
                }
                _ => None,
            },
        },
        _ => match last_segment(ty).map(|(n, _)| n).as_deref() {
            Some("Args") => Some(Input::Args { by_ref: false }),
            Some("Context") => {
                errors.at(ty.span(), "take the context by reference: `ctx: &Context`");
                return None;
            }
            _ => None,
        },
    };
    if let Some(special) = special {
        if let Some(attr) = arg_attrs.first() {
            errors.at(attr.span(), "#[arg] only applies to declared parameters");
        }
        return Some(special);
    }

    let ident = match pat {
        Pat::Ident(p) => p.ident.unraw().to_string(),
        other => {
            errors.at(
                other.span(),
                "a declared parameter needs a plain name (it is the parameter's name)",
            );
            return None;
        }
    };
    let mut param = Param {
        name: ident.trim_start_matches('_').to_owned(),
        span: pat.span(),
        help: String::new(),
        ty: ParamType::String,
        kind: ParamKind::Positional,
        shape: Shape::Single,
        required: true,
        long: String::new(),
        short: String::new(),
        choices: Vec::new(),
        default: String::new(),
        rest: false,
        elem: None,
    };
    let mut option = false;
    let mut flag = false;
    let mut required_override = false;
    for attr in arg_attrs {
        let parsed = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(|i| i.unraw().to_string())
                .unwrap_or_default();
            match key.as_str() {
                "long" => {
                    option = true;
                    if meta.input.peek(Token![=]) {
                        param.long = meta.value()?.parse::<LitStr>()?.value();
                    }
                }
                "short" => {
                    option = true;
                    param.short = meta.value()?.parse::<syn::LitChar>()?.value().to_string();
                }
                "flag" => flag = true,
                "help" => param.help = meta.value()?.parse::<LitStr>()?.value(),
                "default" => param.default = literal_text(&meta)?,
                "choices" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let Expr::Array(array) = expr else {
                        return Err(meta.error("expected choices = [\"a\", \"b\"]"));
                    };
                    for e in array.elems {
                        match e {
                            Expr::Lit(ExprLit {
                                lit: Lit::Str(s), ..
                            }) => param.choices.push(s.value()),
                            Expr::Lit(ExprLit {
                                lit: Lit::Int(i), ..
                            }) => {
                                param.choices.push(i.base10_digits().to_owned());
                            }
                            other => {
                                return Err(syn::Error::new(other.span(), "expected a literal"));
                            }
                        }
                    }
                }
                "name" => param.name = meta.value()?.parse::<LitStr>()?.value(),
                "required" => required_override = flag_value(&meta)?,
                _ => {
                    return Err(meta.error(
                        "unknown #[arg] option; expected long, short, flag, help, default, \
                         choices, name or required",
                    ));
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    if param.name.is_empty() {
        errors.at(
            param.span,
            "name this parameter (or set #[arg(name = \"...\")])",
        );
    }

    // Shape and element type.
    let elem: &Type = match last_segment(ty) {
        Some((n, args)) if n == "Option" || n == "Vec" => match single_type_arg(args) {
            Some(inner) => {
                param.shape = if n == "Option" {
                    Shape::Optional
                } else {
                    Shape::Multiple
                };
                inner
            }
            None => ty,
        },
        _ => ty,
    };
    if is_str_ref(elem) {
        param.elem = None;
    } else {
        if matches!(unwrap_group(elem), Type::Reference(_)) {
            errors.at(
                elem.span(),
                "declared parameters are owned values (or `&str`)",
            );
        }
        param.elem = Some(elem.clone());
        match last_segment(elem).map(|(n, _)| n).as_deref() {
            Some(
                "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64"
                | "u128" | "usize",
            ) => param.ty = ParamType::Integer,
            Some("f32" | "f64") => param.ty = ParamType::Float,
            Some("bool") => param.ty = ParamType::Boolean,
            Some("Rest") => param.rest = true,
            _ => {}
        }
    }

    param.kind =
        if flag || (option && param.ty == ParamType::Boolean && param.shape == Shape::Single) {
            if param.ty != ParamType::Boolean || param.shape != Shape::Single {
                errors.at(param.span, "a flag is a plain `bool`");
            }
            ParamKind::Flag
        } else if option {
            ParamKind::Option
        } else {
            ParamKind::Positional
        };
    if param.rest && (param.kind != ParamKind::Positional || param.shape == Shape::Multiple) {
        errors.at(
            param.span,
            "`Rest` is a positional parameter (`Option<Rest>` is allowed)",
        );
    }
    param.required = match param.shape {
        Shape::Single => param.kind != ParamKind::Flag && param.default.is_empty(),
        Shape::Optional => false,
        Shape::Multiple => required_override,
    };
    Some(Input::Param(Box::new(param)))
}

fn check_inputs(command: &mut Command, errors: &mut Errors) {
    let params: Vec<&Param> = command
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::Param(p) => Some(&**p),
            _ => None,
        })
        .collect();
    let has_args = command
        .inputs
        .iter()
        .any(|i| matches!(i, Input::Args { .. }));
    let has_matches = command.inputs.iter().any(|i| matches!(i, Input::Matches));
    let has_match = command.inputs.iter().any(|i| matches!(i, Input::Match));
    let span = command.span;
    match &mut command.kind {
        Kind::Regex(re) => {
            if let Some(p) = params.first() {
                errors.at(p.span, "regex commands take `&Context`, `&Match` or `&[Match]`, no declared parameters");
            }
            if has_args {
                errors.at(
                    span,
                    "regex commands take `&Match` or `&[Match]` rather than `Args`",
                );
            }
            if has_matches {
                re.match_all = true;
            }
        }
        Kind::Plain { mode, .. } => {
            if has_match || has_matches {
                errors.at(span, "`Match` is for #[re_command] methods");
            }
            if has_args {
                if let Some(p) = params.first() {
                    errors.at(p.span, "a command taking `Args` parses its arguments itself: no declared parameters");
                }
            } else if *mode != ArgMode::Raw && !params.is_empty() {
                errors.at(
                    span,
                    "`split`/`shell` give `Args::argv`; with declared parameters errbotd parses the \
                     arguments itself (quotes group words)",
                );
            }
        }
    }
    let mut names = std::collections::HashSet::new();
    let mut after_open_ended = false;
    let mut after_optional = false;
    for p in &params {
        if !names.insert(p.name.as_str()) {
            errors.at(p.span, format!("two parameters are named {:?}", p.name));
        }
        if p.kind != ParamKind::Positional {
            continue;
        }
        if after_open_ended {
            errors.at(
                p.span,
                "no positional parameter can follow a `Vec` or `Rest` one",
            );
        }
        if p.required && after_optional {
            errors.at(
                p.span,
                "a required positional parameter cannot follow an optional one",
            );
        }
        after_open_ended |= p.rest || p.shape == Shape::Multiple;
        after_optional |= !p.required;
    }
}

fn generate(imp: &ItemImpl, options: &PluginOptions, model: &Model) -> TokenStream2 {
    let sdk = quote!(::errbot_plugin_sdk);
    let v1 = quote!(#sdk::__private::v1);
    let self_ty = &imp.self_ty;
    let (impl_generics, _, where_clause) = imp.generics.split_for_impl();

    let name = match &options.name {
        Some(n) => n.value(),
        None => last_segment(self_ty).map(|(n, _)| n).unwrap_or_default(),
    };
    let description = match &options.description {
        Some(d) => d.value(),
        None => doc_of(&imp.attrs),
    };
    let version = match &options.version {
        Some(v) => quote!(#v),
        None => quote!(::core::env!("CARGO_PKG_VERSION")),
    };
    let config_template = options
        .config_template
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_default();
    let depends_on = &options.depends_on;

    let specs = model.commands.iter().map(|c| command_spec(c, &v1));
    let mut callback_kinds: Vec<CallbackName> = Vec::new();
    for (kinds, _) in &model.callbacks {
        for k in kinds {
            if !callback_kinds.contains(k) {
                callback_kinds.push(*k);
            }
        }
    }
    let callbacks = callback_kinds.iter().map(|k| {
        let variant = format_ident!("{}", k.1);
        quote!(#v1::Callback::#variant as i32)
    });

    let arms = model.commands.iter().map(|c| command_arm(c, &sdk));

    let call = |h: &Hook, arg: TokenStream2| {
        let method = &h.method;
        let args = if h.takes_arg {
            quote!(&*self, #arg)
        } else {
            quote!(&*self)
        };
        let wait = h.is_async.then(|| quote!(.await));
        quote!(Self::#method(#args) #wait)
    };
    let activate = model.activate.as_ref().map(|h| {
        let call = call(h, quote!(&ctx));
        quote! {
            fn activate(
                self: ::std::sync::Arc<Self>,
                ctx: #sdk::ActivateContext,
            ) -> #sdk::BoxFuture<::core::result::Result<(), #sdk::BoxError>> {
                ::std::boxed::Box::pin(async move { #sdk::HookOutput::into_hook_result(#call) })
            }
        }
    });
    let deactivate = model.deactivate.as_ref().map(|h| {
        let call = call(h, quote!());
        quote! {
            fn deactivate(
                self: ::std::sync::Arc<Self>,
            ) -> #sdk::BoxFuture<::core::result::Result<(), #sdk::BoxError>> {
                ::std::boxed::Box::pin(async move { #sdk::HookOutput::into_hook_result(#call) })
            }
        }
    });
    let check_config = model.check_config.as_ref().map(|h| {
        let call = call(h, quote!(&config));
        quote! {
            fn check_config(
                self: ::std::sync::Arc<Self>,
                config: #sdk::__private::serde_json::Value,
            ) -> #sdk::BoxFuture<::core::option::Option<::std::string::String>> {
                ::std::boxed::Box::pin(async move { #sdk::CheckOutput::into_refusal(#call) })
            }
        }
    });
    let event = (!model.callbacks.is_empty()).then(|| {
        let arms = callback_kinds.iter().map(|k| {
            let variant = format_ident!("{}", k.1);
            let calls = model.callbacks.iter().filter(|(kinds, _)| kinds.contains(k)).map(|(_, h)| {
                let call = call(h, quote!(&event));
                quote! {
                    let outcome = #sdk::HookOutput::into_hook_result(#call);
                    if result.is_ok() {
                        result = outcome;
                    }
                }
            });
            quote!(#sdk::CallbackKind::#variant => { #(#calls)* })
        });
        quote! {
            fn event(
                self: ::std::sync::Arc<Self>,
                event: #sdk::Event,
            ) -> #sdk::BoxFuture<::core::result::Result<(), #sdk::BoxError>> {
                ::std::boxed::Box::pin(async move {
                    let mut result: ::core::result::Result<(), #sdk::BoxError> = ::core::result::Result::Ok(());
                    #[allow(unreachable_patterns)]
                    match event.kind() {
                        #(#arms)*
                        _ => {}
                    }
                    result
                })
            }
        }
    });

    let filter_specs = model.filters.iter().map(|m| {
        let (name, help, catch) = (&m.name, &m.help, m.catch_unprocessed);
        quote! {
            #v1::CommandFilterSpec {
                name: ::std::string::String::from(#name),
                help: ::std::string::String::from(#help),
                catch_unprocessed: #catch,
            }
        }
    });
    let filter = (!model.filters.is_empty()).then(|| {
        let arms = model.filters.iter().map(|m| {
            let name = &m.name;
            let call = call(&m.hook, quote!(&call));
            quote! {
                #name => ::core::option::Option::Some(::std::boxed::Box::pin(async move {
                    #sdk::IntoFilter::into_filter(#call)
                })),
            }
        });
        quote! {
            fn filter(
                self: ::std::sync::Arc<Self>,
                call: #sdk::CommandCall,
            ) -> ::core::option::Option<#sdk::BoxFuture<#sdk::Filter>> {
                let name = ::std::string::ToString::to_string(call.filter());
                match name.as_str() {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    });

    let poll = (!model.pollers.is_empty()).then(|| {
        let arms = model.pollers.iter().map(|p| {
            let name = &p.name;
            let call = call(&p.hook, quote!(&ctx));
            // Spanned on the method, so that "future cannot be sent" points at it.
            let future = quote_spanned! {p.span=>
                ::std::boxed::Box::pin(async move { #sdk::HookOutput::into_hook_result(#call) })
            };
            quote! {
                #name => ::core::option::Option::Some(#future),
            }
        });
        quote! {
            fn poll(
                self: ::std::sync::Arc<Self>,
                ctx: #sdk::PollContext,
            ) -> ::core::option::Option<#sdk::BoxFuture<::core::result::Result<(), #sdk::BoxError>>> {
                let name = ::std::string::ToString::to_string(ctx.method());
                match name.as_str() {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    });

    let webhook_specs = model.webhooks.iter().map(|w| {
        let (name, rule, body) = (&w.name, &w.rule, &w.body);
        let methods = &w.methods;
        quote! {
            #v1::WebhookSpec {
                name: ::std::string::String::from(#name),
                uri_rule: ::std::string::String::from(#rule),
                methods: ::std::vec![#(::std::string::String::from(#methods)),*],
                body: ::std::string::String::from(#body),
            }
        }
    });
    let webhook = (!model.webhooks.is_empty()).then(|| {
        let arms = model.webhooks.iter().map(|w| {
            let name = &w.name;
            let call = call(&w.hook, quote!(&request));
            let future = quote_spanned! {w.span=>
                ::std::boxed::Box::pin(async move {
                    #sdk::IntoWebhookResponse::into_webhook_response(#call)
                })
            };
            quote! {
                #name => ::core::option::Option::Some(#future),
            }
        });
        quote! {
            fn webhook(
                self: ::std::sync::Arc<Self>,
                request: #sdk::WebhookRequest,
            ) -> ::core::option::Option<
                #sdk::BoxFuture<::core::result::Result<#sdk::WebhookResponse, #sdk::BoxError>>,
            > {
                let name = ::std::string::ToString::to_string(request.webhook());
                match name.as_str() {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    });

    let flows = (!model.flows.is_empty()).then(|| {
        let built = model.flows.iter().map(|f| {
            let (name, description, method) = (&f.name, &f.description, &f.method);
            quote! {
                {
                    let mut flow = #sdk::Flow::new(#name, #description);
                    self.#method(&mut flow);
                    flow
                }
            }
        });
        quote! {
            fn flows(&self) -> ::std::vec::Vec<#sdk::Flow> {
                ::std::vec![#(#built),*]
            }
        }
    });

    quote! {
        impl #impl_generics #sdk::Plugin for #self_ty #where_clause {
            fn describe(&self) -> #v1::PluginDescription {
                #v1::PluginDescription {
                    name: ::std::string::String::from(#name),
                    description: ::std::string::String::from(#description),
                    version: ::std::string::String::from(#version),
                    protocol_version: ::std::string::String::from(#sdk::__private::PROTOCOL_VERSION),
                    commands: ::std::vec![#(#specs),*],
                    callbacks: ::std::vec![#(#callbacks),*],
                    config_template_json: ::std::string::String::from(#config_template),
                    depends_on: ::std::vec![#(::std::string::String::from(#depends_on)),*],
                    webhooks: ::std::vec![#(#webhook_specs),*],
                    command_filters: ::std::vec![#(#filter_specs),*],
                    // The flows are added by the server, from `flows()`.
                    ..::core::default::Default::default()
                }
            }

            fn execute(
                self: ::std::sync::Arc<Self>,
                ctx: #sdk::Context,
            ) -> ::core::option::Option<#sdk::CommandFuture> {
                match ctx.command() {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }

            #activate
            #deactivate
            #check_config
            #event
            #filter
            #poll
            #webhook
            #flows
        }
    }
}

fn command_spec(c: &Command, v1: &TokenStream2) -> TokenStream2 {
    let Command {
        name,
        help,
        hidden,
        admin_only,
        historize,
        flow_only,
        syntax,
        template,
        ..
    } = c;
    let kind = match &c.kind {
        Kind::Plain {
            mode,
            separator,
            max_split,
        } => {
            let mode = match mode {
                ArgMode::Raw => quote!(Raw),
                ArgMode::Split => quote!(Split),
                ArgMode::Shell => quote!(Shell),
            };
            let params = c.inputs.iter().filter_map(|i| match i {
                Input::Param(p) => Some(param_spec(p, v1)),
                _ => None,
            });
            quote! {
                #v1::command_spec::Kind::Plain(#v1::PlainCommand {
                    arg_mode: #v1::ArgMode::#mode as i32,
                    separator: ::std::string::String::from(#separator),
                    max_split: #max_split,
                    params: ::std::vec![#(#params),*],
                })
            }
        }
        Kind::Regex(re) => {
            let Regex {
                pattern,
                case_insensitive,
                dot_all,
                multi_line,
                match_all,
                prefixed,
            } = re;
            quote! {
                #v1::command_spec::Kind::Regex(#v1::RegexCommand {
                    pattern: ::std::string::String::from(#pattern),
                    case_insensitive: #case_insensitive,
                    dot_all: #dot_all,
                    multi_line: #multi_line,
                    match_all: #match_all,
                    prefixed: #prefixed,
                })
            }
        }
    };
    quote! {
        #v1::CommandSpec {
            name: ::std::string::String::from(#name),
            help: ::std::string::String::from(#help),
            hidden: #hidden,
            admin_only: #admin_only,
            historize: #historize,
            flow_only: #flow_only,
            syntax: ::std::string::String::from(#syntax),
            kind: ::core::option::Option::Some(#kind),
            template: ::std::string::String::from(#template),
        }
    }
}

fn param_spec(p: &Param, v1: &TokenStream2) -> TokenStream2 {
    let Param {
        name,
        help,
        required,
        long,
        short,
        choices,
        default,
        rest,
        ..
    } = p;
    let multiple = p.shape == Shape::Multiple;
    let ty = match p.ty {
        ParamType::String => quote!(String),
        ParamType::Integer => quote!(Integer),
        ParamType::Float => quote!(Float),
        ParamType::Boolean => quote!(Boolean),
    };
    let kind = match p.kind {
        ParamKind::Positional => quote!(Positional),
        ParamKind::Option => quote!(Option),
        ParamKind::Flag => quote!(Flag),
    };
    quote! {
        #v1::ParamSpec {
            name: ::std::string::String::from(#name),
            help: ::std::string::String::from(#help),
            r#type: #v1::ParamType::#ty as i32,
            kind: #v1::ParamKind::#kind as i32,
            required: #required,
            multiple: #multiple,
            long: ::std::string::String::from(#long),
            short: ::std::string::String::from(#short),
            choices: ::std::vec![#(::std::string::String::from(#choices)),*],
            default_value: ::std::string::String::from(#default),
            rest: #rest,
        }
    }
}

fn command_arm(c: &Command, sdk: &TokenStream2) -> TokenStream2 {
    let private = quote!(#sdk::__private);
    let mut lets = Vec::new();
    let mut args = Vec::new();
    for (i, input) in c.inputs.iter().enumerate() {
        let var = format_ident!("__arg{}", i);
        match input {
            Input::Context => args.push(quote!(__ctx)),
            Input::Args { by_ref } => {
                lets.push(quote!(let #var = #sdk::Args::of(__ctx);));
                args.push(if *by_ref { quote!(&#var) } else { quote!(#var) });
            }
            Input::Match => args.push(quote!(#private::first_match(__ctx))),
            Input::Matches => args.push(quote!(__ctx.matches())),
            Input::Param(p) => {
                let name = &p.name;
                let extract = match (p.kind, p.shape, &p.elem) {
                    (ParamKind::Flag, _, _) => quote!(#private::flag(__ctx, #name)),
                    (_, Shape::Single, Some(t)) => quote!(#private::required::<#t>(__ctx, #name)),
                    (_, Shape::Single, None) => quote!(#private::required_str(__ctx, #name)),
                    (_, Shape::Optional, Some(t)) => quote!(#private::optional::<#t>(__ctx, #name)),
                    (_, Shape::Optional, None) => quote!(#private::optional_str(__ctx, #name)),
                    (_, Shape::Multiple, Some(t)) => quote!(#private::multiple::<#t>(__ctx, #name)),
                    (_, Shape::Multiple, None) => quote!(#private::multiple_str(__ctx, #name)),
                };
                lets.push(quote_spanned!(p.span=> let #var = #extract?;));
                args.push(quote!(#var));
            }
        }
    }
    let name = &c.name;
    let method = &c.method;
    let wait = c.is_async.then(|| quote!(.await));
    // Spanned on the method, so that "future cannot be sent between threads" points at it.
    let future = quote_spanned! {c.span=>
        ::std::boxed::Box::pin(async move {
            let __ctx = &ctx;
            #(#lets)*
            let __out = Self::#method(&*self #(, #args)*) #wait;
            #sdk::IntoReplies::into_replies(__out, __ctx.replies())
        })
    };
    quote! {
        #name => ::core::option::Option::Some(#future),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: &str, item: &str) -> String {
        let attr: TokenStream2 = attr.parse().expect("attr tokens");
        let item: TokenStream2 = item.parse().expect("item tokens");
        expand(attr, item).to_string()
    }

    fn errors_of(attr: &str, item: &str) -> String {
        let out = expand_str(attr, item);
        assert!(out.contains("compile_error"), "expected an error in: {out}");
        out
    }

    #[test]
    fn docs_lose_indentation_and_outer_blank_lines() {
        let item: ItemImpl = syn::parse_str(
            "/// First line.\n///\n///     code\n/// Last.\n#[doc = \"\"]\nimpl X {}",
        )
        .expect("impl");
        assert_eq!(doc_of(&item.attrs), "First line.\n\n    code\nLast.");
        let item: ItemImpl =
            syn::parse_str("/**\n   Block\n     doc\n */\nimpl X {}").expect("impl");
        assert_eq!(doc_of(&item.attrs), "Block\n  doc");
    }

    #[test]
    fn generates_the_trait_and_strips_our_attributes() {
        let out = expand_str(
            "name = \"x\"",
            "impl X { /// Hi.\n #[command(split = \",\")] async fn hi(&self, #[arg(long)] n: u8) {} }",
        );
        assert!(out.contains("Plugin for X"), "{out}");
        assert!(!out.contains("# [command"), "{out}");
        assert!(!out.contains("# [arg"), "{out}");
        assert!(
            out.contains("compile_error"),
            "split with declared params is refused: {out}"
        );
    }

    #[test]
    fn reports_misuse_clearly() {
        let cases: &[(&str, &str, &str)] = &[
            ("", "impl X { #[command] fn a(self) {} }", "take `&self`"),
            (
                "",
                "impl X { #[command] fn a(&mut self) {} }",
                "take `&self`",
            ),
            ("bogus = 1", "impl X {}", "unknown #[plugin] option"),
            (
                "",
                "impl X { #[command(nope)] fn a(&self) {} }",
                "unknown option",
            ),
            (
                "",
                "impl X { #[re_command] fn a(&self) {} }",
                "needs `pattern",
            ),
            (
                "",
                "impl X { #[re_command(pattern = \"x\")] fn a(&self, n: u8) {} }",
                "no declared parameters",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, m: &Match) {} }",
                "for #[re_command]",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, a: Args, n: u8) {} }",
                "parses its arguments itself",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, v: Vec<u8>, n: u8) {} }",
                "can follow a `Vec`",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, v: Option<u8>, n: u8) {} }",
                "cannot follow an optional",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, #[arg(flag)] n: u8) {} }",
                "a flag is a plain `bool`",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, #[arg(long)] r: Rest) {} }",
                "`Rest` is a positional",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, ctx: Context) {} }",
                "by reference",
            ),
            (
                "",
                "impl X { #[command] fn a(&self) {} #[command(name = \"a\")] fn b(&self) {} }",
                "two commands",
            ),
            (
                "",
                "impl X { #[command] fn a(&self, x: u8, #[arg(name = \"x\")] y: u8) {} }",
                "two parameters",
            ),
            (
                "",
                "impl X { #[callback(nope)] fn a(&self) {} }",
                "unknown callback",
            ),
            (
                "",
                "impl X { #[activate] fn a(&self) {} #[activate] fn b(&self) {} }",
                "only one method",
            ),
            (
                "",
                "impl X { #[deactivate] fn a(&self, e: &Event) {} }",
                "takes only `&self`",
            ),
            (
                "",
                "impl X { fn a(&self, #[arg(long)] n: u8) {} }",
                "#[arg] only applies",
            ),
            ("", "impl T for X {}", "inherent"),
            (
                "",
                "impl X { #[poller] fn a(&self) {} #[poller(name = \"a\")] fn b(&self) {} }",
                "two pollers",
            ),
            (
                "",
                "impl X { #[poller(every = 3)] fn a(&self) {} }",
                "expected `name",
            ),
            (
                "",
                "impl X { #[poller] fn a(&self, x: u8, y: u8) {} }",
                "optionally `&PollContext`",
            ),
        ];
        for (attr, item, expected) in cases {
            let out = errors_of(attr, item);
            assert!(
                out.contains(expected),
                "{item}: expected {expected:?} in {out}"
            );
        }
    }
}
