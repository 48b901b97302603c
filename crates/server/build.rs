//! Writes the OpenAPI schemas of the request and answer bodies whose types do not derive
//! `utoipa::ToSchema`: the types of `model` (which stays free of utoipa, to build with rustc 1.63
//! for the agent) and the server types made of them. For each root below it reads the type's
//! definition from the sources of `model`, `secdesc` and `server`, with every type it is made of,
//! and writes a copy that derives `ToSchema`: same fields, same doc comments, same `serde`
//! attributes, so the schema says what serde writes. The copies live in
//! `server::api::openapi::schemas`; nothing else uses them.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use quote::{format_ident, quote, ToTokens};
use syn::{Attribute, Fields, GenericArgument, Item, PathArguments, Type};

/// (schema name, type name, file that defines it, relative to `crates/`).
const ROOTS: &[(&str, &str, &str)] = &[
    ("Directory", "Directory", "model/src/directory.rs"),
    (
        "DirectoryDocument",
        "DirectoryDocument",
        "server/src/directory/file.rs",
    ),
    (
        "ImportSummary",
        "ImportSummary",
        "server/src/directory/import.rs",
    ),
    ("ImportRun", "ImportRun", "server/src/store/imports.rs"),
    (
        "MatchSummary",
        "MatchSummary",
        "server/src/directory/matching.rs",
    ),
    (
        "ConnectionRequest",
        "ConnectionBody",
        "server/src/api/connections.rs",
    ),
    (
        "ConnectionInfo",
        "ConnectionInfo",
        "server/src/directory/connection.rs",
    ),
    (
        "SyncRequest",
        "SyncBody",
        "server/src/api/directory_sync.rs",
    ),
    (
        "SyncSchedule",
        "SyncSchedule",
        "server/src/store/schedule.rs",
    ),
    (
        "SyncOutcome",
        "CycleOutcome",
        "server/src/directory/schedule.rs",
    ),
    (
        "MatchProfile",
        "MatchProfile",
        "server/src/directory/profile.rs",
    ),
    (
        "ProfileRequest",
        "ProfileRequest",
        "server/src/api/matching.rs",
    ),
    ("WhatIf", "WhatIf", "server/src/directory/matching.rs"),
    (
        "Explanation",
        "Explanation",
        "server/src/directory/profile/explain.rs",
    ),
    ("ObjectHit", "ObjectHit", "server/src/store/directories.rs"),
    (
        "ObjectReport",
        "ObjectReport",
        "server/src/directory/report.rs",
    ),
    (
        "TranslationEntry",
        "TranslationEntry",
        "model/src/directory.rs",
    ),
    ("PskInfo", "PskInfo", "server/src/store/certificates.rs"),
    (
        "CertificateInfo",
        "CertificateInfo",
        "server/src/store/certificates.rs",
    ),
    ("Runbook", "Runbook", "model/src/runbook/mod.rs"),
    (
        "RunbookView",
        "RunbookView",
        "server/src/migration/runbooks.rs",
    ),
    ("Batch", "Batch", "model/src/batch.rs"),
    ("BatchView", "BatchView", "server/src/migration/batches.rs"),
    (
        "ComputerEntry",
        "ComputerEntry",
        "server/src/store/computers.rs",
    ),
    ("AgentEvent", "AgentEvent", "model/src/protocol.rs"),
    ("UserProfile", "UserProfile", "model/src/protocol.rs"),
    (
        "FailedCommunication",
        "FailedCommunication",
        "server/src/store/communications.rs",
    ),
    (
        "FailedSource",
        "FailedSource",
        "server/src/store/communications.rs",
    ),
    ("LicenceView", "LicenceView", "server/src/licences.rs"),
    ("StartedFlow", "StartedFlow", "server/src/enrollment/mod.rs"),
    ("PollOutcome", "PollOutcome", "server/src/enrollment/mod.rs"),
    (
        "BulkTokenView",
        "BulkTokenView",
        "server/src/enrollment/mod.rs",
    ),
    (
        "StartRequest",
        "StartRequest",
        "server/src/enrollment/mod.rs",
    ),
    ("PackageView", "PackageView", "server/src/packages.rs"),
    ("JoinState", "JoinState", "model/src/plan.rs"),
    ("OsEdition", "OsEdition", "model/src/plan.rs"),
    ("Phase", "Phase", "model/src/status.rs"),
    ("AgentStatus", "AgentStatus", "model/src/status.rs"),
    ("FieldError", "FieldError", "model/src/error.rs"),
    (
        "DevicePlan",
        "DevicePlan",
        "server/src/migration/device_plan.rs",
    ),
];

/// Types serde writes as text whose `Serialize` is not found by reading the sources (only
/// deserialised, or written by a macro this script does not read).
const AS_TEXT: &[&str] = &["Secret", "SafeHtml"];

/// Types named by path that utoipa knows itself.
const KNOWN: &[&str] = &[
    "String",
    "bool",
    "u8",
    "u16",
    "u32",
    "u64",
    "usize",
    "i8",
    "i16",
    "i32",
    "i64",
    "isize",
    "f32",
    "f64",
    "char",
    "Uuid",
    "DateTime",
    "NaiveDateTime",
    "NaiveDate",
    "NaiveTime",
    "Utc",
    "Value",
];

/// Containers whose type arguments are mirrored.
const CONTAINERS: &[&str] = &[
    "Vec", "Option", "Box", "HashMap", "BTreeMap", "HashSet", "BTreeSet", "Arc",
];

struct Def {
    item: Item,
    file: usize,
}

struct File {
    /// `crate` as `model`, `secdesc` or `server`, then the modules.
    module: Vec<String>,
    /// The last segment of each `use` path, with the whole path.
    uses: BTreeMap<String, Vec<String>>,
}

fn main() {
    let crates = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"))
        .parent()
        .expect("crates/")
        .to_path_buf();
    for dir in ["model/src", "secdesc/src", "server/src"] {
        println!("cargo:rerun-if-changed={}", crates.join(dir).display());
    }
    let mut files: Vec<File> = Vec::new();
    let mut paths: Vec<String> = Vec::new();
    let mut defs: BTreeMap<String, Vec<Def>> = BTreeMap::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut as_text: BTreeSet<String> = AS_TEXT.iter().map(|s| s.to_string()).collect();
    for dir in ["model/src", "secdesc/src", "server/src"] {
        let mut found = Vec::new();
        walk(&crates.join(dir), &mut found);
        found.sort();
        for path in found {
            let rel = path
                .strip_prefix(&crates)
                .expect("under crates/")
                .to_string_lossy()
                .replace('\\', "/");
            if rel.contains("/tests/") || rel.ends_with("/tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read source");
            let parsed = match syn::parse_file(&text) {
                Ok(f) => f,
                // The compiler reports it better.
                Err(_) => continue,
            };
            let index = files.len();
            let mut uses = BTreeMap::new();
            for item in &parsed.items {
                match item {
                    Item::Use(u) => collect_uses(&u.tree, &mut Vec::new(), &mut uses),
                    Item::Struct(s) => defs.entry(s.ident.to_string()).or_default().push(Def {
                        item: item.clone(),
                        file: index,
                    }),
                    Item::Enum(e) => defs.entry(e.ident.to_string()).or_default().push(Def {
                        item: item.clone(),
                        file: index,
                    }),
                    // A type that serialises itself by hand writes text here (SIDs, GUIDs,
                    // keys, expressions).
                    Item::Impl(i)
                        if i.trait_.as_ref().is_some_and(|(_, path, _)| {
                            path.segments.last().is_some_and(|s| s.ident == "Serialize")
                        }) =>
                    {
                        if let Type::Path(p) = &*i.self_ty {
                            if let Some(last) = p.path.segments.last() {
                                as_text.insert(last.ident.to_string());
                            }
                        }
                    }
                    Item::Macro(m) if m.mac.path.is_ident("serde_as_text") => {
                        if let Ok(ident) = syn::parse2::<syn::Ident>(m.mac.tokens.clone()) {
                            as_text.insert(ident.to_string());
                        }
                    }
                    Item::Macro(m) if m.mac.path.is_ident("uuid_id") => {
                        for token in m.mac.tokens.clone() {
                            if let proc_macro2::TokenTree::Ident(ident) = token {
                                ids.insert(ident.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
            files.push(File {
                module: module_of(&rel),
                uses,
            });
            paths.push(rel);
        }
    }

    let mut g = Generator {
        defs: &defs,
        files: &files,
        ids: &ids,
        text: &as_text,
        names: BTreeMap::new(),
        queue: VecDeque::new(),
        out: String::new(),
    };
    for (schema, name, file) in ROOTS {
        let file = paths
            .iter()
            .position(|p| p == file)
            .unwrap_or_else(|| panic!("{file} is not a source file"));
        let def = defs
            .get(*name)
            .and_then(|all| all.iter().position(|d| d.file == file))
            .unwrap_or_else(|| panic!("{name} is not defined in {}", paths[file]));
        g.names.insert((name.to_string(), def), schema.to_string());
        g.queue.push_back((name.to_string(), def));
    }
    let mut done = BTreeSet::new();
    while let Some(key) = g.queue.pop_front() {
        if done.insert(key.clone()) {
            g.mirror(&key, &paths);
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("schemas.rs");
    std::fs::write(out, g.out).expect("write schemas");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `server/src/api/mod.rs` → `server::api`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    parts.remove(1); // src
    if matches!(parts.last().map(String::as_str), Some("mod") | Some("lib")) {
        parts.pop();
    }
    parts
}

fn collect_uses(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut BTreeMap<String, Vec<String>>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            collect_uses(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut whole = prefix.clone();
            whole.push(n.ident.to_string());
            out.insert(n.ident.to_string(), whole);
        }
        syn::UseTree::Rename(r) => {
            let mut whole = prefix.clone();
            whole.push(r.ident.to_string());
            out.insert(r.rename.to_string(), whole);
        }
        syn::UseTree::Group(g) => {
            for t in &g.items {
                collect_uses(t, prefix, out);
            }
        }
        syn::UseTree::Glob(_) => {}
    }
}

struct Generator<'a> {
    defs: &'a BTreeMap<String, Vec<Def>>,
    files: &'a [File],
    ids: &'a BTreeSet<String>,
    /// Types serde writes as text.
    text: &'a BTreeSet<String>,
    /// The schema name given to each definition (type name, index among its namesakes).
    names: BTreeMap<(String, usize), String>,
    queue: VecDeque<(String, usize)>,
    out: String,
}

impl Generator<'_> {
    /// Which definition of `name` a type in `file` means, written as `path` (its segments).
    fn resolve(&self, name: &str, path: &[String], file: usize) -> Option<usize> {
        let all = self.defs.get(name)?;
        if all.len() == 1 {
            return Some(0);
        }
        let here = &self.files[file];
        let written: Vec<String> = if path.len() > 1 {
            path.to_vec()
        } else if let Some(used) = here.uses.get(name) {
            used.clone()
        } else {
            // Defined beside its use.
            return all.iter().position(|d| d.file == file);
        };
        let mut module: Vec<String> = Vec::new();
        for (i, segment) in written[..written.len() - 1].iter().enumerate() {
            match segment.as_str() {
                "crate" if i == 0 => module.push(here.module[0].clone()),
                "super" => {
                    if module.is_empty() {
                        module = here.module.clone();
                    }
                    module.pop();
                }
                "self" if i == 0 => module = here.module.clone(),
                other => {
                    if i == 0 && !["model", "secdesc", "server"].contains(&other) {
                        module = here.module.clone();
                    }
                    module.push(other.to_string());
                }
            }
        }
        let exact = all.iter().position(|d| self.files[d.file].module == module);
        // Or re-exported by a parent module.
        exact.or_else(|| {
            all.iter()
                .position(|d| self.files[d.file].module.starts_with(&module))
        })
    }

    fn schema_name(&mut self, name: &str, index: usize) -> String {
        let key = (name.to_string(), index);
        if let Some(n) = self.names.get(&key) {
            return n.clone();
        }
        let mut candidate = name.to_string();
        if self.names.values().any(|n| *n == candidate) {
            let def = &self.defs[name][index];
            let module = self.files[def.file]
                .module
                .last()
                .cloned()
                .unwrap_or_default();
            candidate = format!("{}{}", camel(&module), name);
        }
        self.names.insert(key.clone(), candidate.clone());
        self.queue.push_back(key);
        candidate
    }

    /// `ty` with every named type replaced by its schema's type.
    fn map_type(&mut self, ty: &Type, file: usize, context: &str) -> Type {
        match ty {
            Type::Path(p) if p.qself.is_none() => {
                let segments: Vec<String> =
                    p.path.segments.iter().map(|s| s.ident.to_string()).collect();
                let last = p.path.segments.last().expect("a path has a segment");
                let name = last.ident.to_string();
                if CONTAINERS.contains(&name.as_str()) {
                    let mut out = p.clone();
                    if let Some(seg) = out.path.segments.last_mut() {
                        if let PathArguments::AngleBracketed(args) = &mut seg.arguments {
                            for arg in args.args.iter_mut() {
                                if let GenericArgument::Type(t) = arg {
                                    *t = self.map_type(t, file, context);
                                }
                            }
                        }
                    }
                    // `std::…` paths stay as written; bare names come from the prelude or are
                    // named in full.
                    let ident = &last.ident;
                    let args = &out.path.segments.last().expect("segment").arguments;
                    let full = match name.as_str() {
                        "HashMap" | "HashSet" => quote!(std::collections::#ident #args),
                        "BTreeMap" | "BTreeSet" => quote!(std::collections::#ident #args),
                        "Arc" => quote!(std::sync::#ident #args),
                        _ => quote!(#ident #args),
                    };
                    return syn::parse2(full).expect("container type");
                }
                if self.ids.contains(&name) || name == "Uuid" {
                    return syn::parse_quote!(uuid::Uuid);
                }
                if self.text.contains(&name) || name == "str" {
                    return syn::parse_quote!(String);
                }
                if KNOWN.contains(&name.as_str()) {
                    return match name.as_str() {
                        "DateTime" => syn::parse_quote!(chrono::DateTime<chrono::Utc>),
                        // A local time, read without an offset: its own schema says so.
                        "NaiveDateTime" => syn::parse_quote!(LocalDateTime),
                        "NaiveDate" => syn::parse_quote!(chrono::NaiveDate),
                        "NaiveTime" => syn::parse_quote!(chrono::NaiveTime),
                        "Value" => syn::parse_quote!(serde_json::Value),
                        _ => ty.clone(),
                    };
                }
                let Some(index) = self.resolve(&name, &segments, file) else {
                    panic!(
                        "the OpenAPI schema of {context} needs {name}, which build.rs cannot find: \
                         add it to AS_TEXT or KNOWN there if serde writes it as text or a number"
                    );
                };
                let schema = format_ident!("{}", self.schema_name(&name, index));
                syn::parse_quote!(#schema)
            }
            Type::Reference(r) => {
                if r.elem.to_token_stream().to_string() == "str" {
                    syn::parse_quote!(String)
                } else {
                    self.map_type(&r.elem, file, context)
                }
            }
            Type::Slice(s) => {
                let inner = self.map_type(&s.elem, file, context);
                syn::parse_quote!(Vec<#inner>)
            }
            Type::Array(a) => {
                let inner = self.map_type(&a.elem, file, context);
                syn::parse_quote!(Vec<#inner>)
            }
            Type::Tuple(t) => {
                let items: Vec<Type> = t.elems.iter().map(|e| self.map_type(e, file, context)).collect();
                syn::parse_quote!((#(#items),*))
            }
            other => panic!(
                "the OpenAPI schema of {context} has a field of type {}, which build.rs does not mirror",
                other.to_token_stream()
            ),
        }
    }

    fn mirror(&mut self, key: &(String, usize), paths: &[String]) {
        let defs = self.defs;
        let def = &defs[&key.0][key.1];
        let schema = format_ident!("{}", self.names[key]);
        let context = format!("{} ({})", key.0, paths[def.file]);
        let tokens = match &def.item {
            Item::Struct(s) => {
                let (attrs, container_default) = kept_attributes(&s.attrs);
                let fields = self.fields(&s.fields, def.file, &context, container_default, true);
                match &s.fields {
                    Fields::Unnamed(_) => quote! {
                        #(#attrs)*
                        pub struct #schema #fields;
                    },
                    _ => quote! {
                        #(#attrs)*
                        pub struct #schema #fields
                    },
                }
            }
            Item::Enum(e) => {
                let (attrs, _) = kept_attributes(&e.attrs);
                let mut variants = Vec::new();
                for v in &e.variants {
                    let (vattrs, _) = kept_attributes(&v.attrs);
                    let ident = &v.ident;
                    let fields = self.fields(&v.fields, def.file, &context, false, false);
                    variants.push(quote! { #(#vattrs)* #ident #fields });
                }
                quote! {
                    #(#attrs)*
                    pub enum #schema { #(#variants),* }
                }
            }
            _ => unreachable!("only structs and enums are collected"),
        };
        let _ = writeln!(
            self.out,
            "#[derive(utoipa::ToSchema)]\n#[allow(dead_code)]\n{}\n",
            tokens
        );
    }

    fn fields(
        &mut self,
        fields: &Fields,
        file: usize,
        context: &str,
        all_default: bool,
        public: bool,
    ) -> proc_macro2::TokenStream {
        let vis = if public { quote!(pub) } else { quote!() };
        match fields {
            Fields::Unit => quote!(),
            Fields::Named(named) => {
                let mut out = Vec::new();
                for f in &named.named {
                    let (mut attrs, default) = kept_attributes(&f.attrs);
                    if all_default || default {
                        attrs.push(syn::parse_quote!(#[serde(default)]));
                    }
                    let ident = f.ident.as_ref().expect("named field");
                    let ty = self.map_type(&f.ty, file, context);
                    out.push(quote! { #(#attrs)* #vis #ident: #ty });
                }
                quote!({ #(#out),* })
            }
            Fields::Unnamed(unnamed) => {
                let mut out = Vec::new();
                for f in &unnamed.unnamed {
                    let ty = self.map_type(&f.ty, file, context);
                    out.push(quote! { #vis #ty });
                }
                quote!(( #(#out),* ))
            }
        }
    }
}

/// The doc comments and the `serde` attributes that shape the JSON. `default = "function"` becomes
/// `default` (the mirror has no such function); a bare `default` is returned apart: a container's
/// goes on each of its fields (on the container utoipa would call the mirror's `Default`).
fn kept_attributes(attrs: &[Attribute]) -> (Vec<Attribute>, bool) {
    let mut out = Vec::new();
    let mut container_default = false;
    for a in attrs {
        if a.path().is_ident("doc") {
            out.push(a.clone());
        } else if a.path().is_ident("serde") {
            let mut kept: Vec<proc_macro2::TokenStream> = Vec::new();
            let _ = a.parse_nested_meta(|meta| {
                let name = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                if meta.input.peek(syn::Token![=]) {
                    let value: syn::Expr = meta.value()?.parse()?;
                    match name.as_str() {
                        "default" => container_default = true,
                        "rename" | "rename_all" | "tag" | "content" => {
                            let path = &meta.path;
                            kept.push(quote!(#path = #value));
                        }
                        "skip_serializing_if" => {
                            let path = &meta.path;
                            kept.push(quote!(#path = #value));
                        }
                        _ => {}
                    }
                } else {
                    match name.as_str() {
                        "default" => container_default = true,
                        "flatten" | "skip" | "skip_serializing" | "skip_deserializing"
                        | "transparent" | "untagged" => {
                            let path = &meta.path;
                            kept.push(quote!(#path));
                        }
                        _ => {}
                    }
                }
                Ok(())
            });
            if !kept.is_empty() {
                out.push(syn::parse_quote!(#[serde(#(#kept),*)]));
            }
        }
    }
    (out, container_default)
}

fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        })
        .collect()
}
