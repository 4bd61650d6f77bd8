//! `bedrock/module.h`: the C module ABI. A module library calls
//! `bedrock_register_module` while it loads (a constructor function in C, a
//! static object in C++ — see `bedrock/ModuleManager.hpp`), handing a table
//! of functions; Bedrock adapts it to the Rust `Module` trait.
#![allow(non_camel_case_types)]

use crate::bedrock::error::BedrockError;
use crate::bedrock::module::{self, Component, ComponentArgs, DependencyDecl, Module, Resolved};
use crate::bedrock::modules::flock::FlockComponent;
use crate::ffi::flock::provider::flock_provider;
use crate::ffi::handles::{self, boxed_into_c, margo_instance_id};
use crate::ffi::panic::guard;
use std::any::Any;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Arc;

/// Dependency flags.
pub const BEDROCK_REQUIRED: u32 = 0x1;
pub const BEDROCK_ARRAY: u32 = 0x2;
pub const BEDROCK_UPDATABLE: u32 = 0x4;

/// A dependency a module declares.
#[repr(C)]
pub struct bedrock_dependency {
    pub name: *const c_char,
    /// `pool`, `xstream`, `margo`, or a module name.
    pub type_: *const c_char,
    pub flags: u32,
}

/// A resolved dependency handed to `create`.
#[repr(C)]
pub struct bedrock_resolved_dependency {
    pub name: *const c_char,
    pub type_: *const c_char,
    pub count: usize,
    /// Resolved names (pool name, provider name, `type:id@address`, ...).
    pub names: *const *const c_char,
    /// Handles: `ABT_pool`, `margo_instance_id`, a local provider's handle
    /// (`flock_provider_t` for flock), NULL for xstreams and remote providers.
    pub handles: *const *mut c_void,
    /// Provider ids (providers only, else 0).
    pub provider_ids: *const u16,
}

#[repr(C)]
pub struct bedrock_component_args {
    pub name: *const c_char,
    pub mid: margo_instance_id,
    pub provider_id: u16,
    /// The provider's `config` object as JSON text.
    pub config: *const c_char,
    pub num_tags: usize,
    pub tags: *const *const c_char,
    pub num_dependencies: usize,
    pub dependencies: *const bedrock_resolved_dependency,
}

/// A module: its dependencies and component life cycle. `create` returns 0
/// and sets `*component`, or non-zero and may set `*error` to a malloc'd
/// message (Bedrock frees it).
#[repr(C)]
pub struct bedrock_module {
    pub dependencies: *const bedrock_dependency,
    pub num_dependencies: usize,
    pub create: Option<
        unsafe extern "C" fn(args: *const bedrock_component_args, component: *mut *mut c_void, error: *mut *mut c_char) -> c_int,
    >,
    pub destroy: Option<unsafe extern "C" fn(component: *mut c_void)>,
    /// Malloc'd JSON text (Bedrock frees it), or NULL for `{}`.
    pub get_config: Option<unsafe extern "C" fn(component: *mut c_void) -> *mut c_char>,
    pub get_handle: Option<unsafe extern "C" fn(component: *mut c_void) -> *mut c_void>,
    /// Optional: dependencies computed from the provider's arguments (its
    /// config, ...). Call `add(ctx, name, type, flags)` once per dependency.
    /// When set, it is used instead of `dependencies`. `args` has no
    /// resolved dependencies yet, and its provider id may still be 65535.
    pub get_dependencies: Option<
        unsafe extern "C" fn(
            args: *const bedrock_component_args,
            add: Option<unsafe extern "C" fn(ctx: *mut c_void, name: *const c_char, type_: *const c_char, flags: u32)>,
            ctx: *mut c_void,
        ),
    >,
}

/// # Safety
/// `p` must be NULL or NUL-terminated.
unsafe fn text(p: *const c_char) -> Option<String> {
    // SAFETY: non-NULL here, and NUL-terminated by the contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

struct CModule {
    name: String,
    deps: Vec<DependencyDecl>,
    table: bedrock_module,
}

// SAFETY: the table holds function pointers and a dependency array copied
// at registration; the functions are called from any thread, as upstream's
// modules are.
unsafe impl Send for CModule {}
// SAFETY: shared use only reads the copied table and calls its functions,
// which modules must allow from several threads, as upstream's are.
unsafe impl Sync for CModule {}

/// Strings and arrays that must outlive a `create` call.
#[derive(Default)]
struct ArgsStorage {
    strings: Vec<CString>,
    string_arrays: Vec<Vec<*const c_char>>,
    handle_arrays: Vec<Vec<*mut c_void>>,
    id_arrays: Vec<Vec<u16>>,
    dep_arrays: Vec<Vec<bedrock_resolved_dependency>>,
}

impl ArgsStorage {
    fn s(&mut self, v: &str) -> *const c_char {
        let c = CString::new(v.replace('\0', "")).expect("NULs removed");
        let p = c.as_ptr();
        self.strings.push(c);
        p
    }

    /// The C view of `args`, pointing into `self` (valid while it lives).
    /// Each resolved dependency carries the type its declaration gave.
    fn component_args(&mut self, args: &ComponentArgs) -> bedrock_component_args {
        let tags: Vec<*const c_char> = args.tags.iter().map(|t| self.s(t)).collect();
        let mut deps = Vec::new();
        for (dep_name, resolved) in &args.dependencies {
            let type_name = args.declared.iter().find(|d| &d.name == dep_name).map(|d| d.type_name.as_str()).unwrap_or("");
            let names: Vec<*const c_char> = resolved.iter().map(|r| self.s(&r.name)).collect();
            let (hs, ids): (Vec<*mut c_void>, Vec<u16>) = resolved.iter().map(|r| handle_of(&r.target)).unzip();
            deps.push(bedrock_resolved_dependency {
                name: self.s(dep_name),
                type_: self.s(type_name),
                count: resolved.len(),
                names: names.as_ptr(),
                handles: hs.as_ptr(),
                provider_ids: ids.as_ptr(),
            });
            self.string_arrays.push(names);
            self.handle_arrays.push(hs);
            self.id_arrays.push(ids);
        }
        let c_args = bedrock_component_args {
            name: self.s(&args.name),
            mid: handles::instance_for(&args.engine),
            provider_id: args.provider_id,
            config: self.s(&args.config.to_string()),
            num_tags: tags.len(),
            tags: tags.as_ptr(),
            num_dependencies: deps.len(),
            dependencies: deps.as_ptr(),
        };
        self.string_arrays.push(tags);
        self.dep_arrays.push(deps);
        c_args
    }
}

/// The `add` callback handed to a module's `get_dependencies`: records one
/// declared dependency in the `Vec<DependencyDecl>` that `ctx` points to.
/// Called by C: panics stop here.
unsafe extern "C" fn add_dependency(ctx: *mut c_void, name: *const c_char, type_: *const c_char, flags: u32) {
    guard("bedrock module get_dependencies callback", (), || {
        if ctx.is_null() {
            return;
        }
        // SAFETY: ctx is the Vec that dependencies() hands to
        // get_dependencies, alive for the whole call; the strings are NULL or
        // NUL-terminated (the callback's contract).
        let (out, name, type_) = unsafe { (&mut *(ctx as *mut Vec<DependencyDecl>), text(name), text(type_)) };
        if let (Some(name), Some(type_name)) = (name, type_) {
            out.push(DependencyDecl {
                name,
                type_name,
                is_required: flags & BEDROCK_REQUIRED != 0,
                is_array: flags & BEDROCK_ARRAY != 0,
                is_updatable: flags & BEDROCK_UPDATABLE != 0,
            });
        }
    })
}

/// The C handle of a dependency target.
fn handle_of(target: &Resolved) -> (*mut c_void, u16) {
    match target {
        Resolved::Pool(p) => (handles::pool_into_c(p) as *mut c_void, 0),
        Resolved::Xstream(_) => (std::ptr::null_mut(), 0),
        Resolved::Margo(e) => (handles::instance_for(e) as *mut c_void, 0),
        Resolved::Local(entry) => {
            let any = entry.component.as_any();
            let h = if let Some(f) = any.downcast_ref::<FlockComponent>() {
                // A flock_provider_t of our own for the dependent to use; it
                // is never destroyed through this handle (the flock
                // component owns the provider), so it is left to the process.
                boxed_into_c::<flock_provider>(f.provider().clone()) as *mut c_void
            } else if let Some(c) = any.downcast_ref::<CComponent>() {
                c.handle()
            } else {
                std::ptr::null_mut()
            };
            (h, entry.provider_id)
        }
        Resolved::Remote { provider_id, .. } => (std::ptr::null_mut(), *provider_id),
    }
}

impl Module for CModule {
    fn name(&self) -> &str {
        &self.name
    }

    fn dependencies(&self, args: &ComponentArgs) -> Result<Vec<DependencyDecl>, BedrockError> {
        let Some(get) = self.table.get_dependencies else { return Ok(self.deps.clone()) };
        let mut st = ArgsStorage::default();
        let c_args = st.component_args(args);
        let mut out: Vec<DependencyDecl> = Vec::new();
        // SAFETY: the module's callback with valid arguments; `add` only
        // runs during the call, with `out` as its context.
        unsafe { get(&c_args, Some(add_dependency), &mut out as *mut Vec<DependencyDecl> as *mut c_void) };
        Ok(out)
    }

    fn create(&self, args: ComponentArgs) -> Result<Box<dyn Component>, BedrockError> {
        let create =
            self.table.create.ok_or_else(|| BedrockError::msg(format!("module \"{}\" has no create function", self.name)))?;
        let mut st = ArgsStorage::default();
        let c_args = st.component_args(&args);
        let mut component: *mut c_void = std::ptr::null_mut();
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: the module's own create with arguments valid for the call.
        let rc = unsafe { create(&c_args, &mut component, &mut error) };
        // SAFETY: the module sets `error` to NULL or a NUL-terminated message.
        let message = unsafe { text(error) };
        if !error.is_null() {
            // SAFETY: the module allocated it with malloc, as documented.
            unsafe { libc::free(error as *mut c_void) };
        }
        if rc != 0 {
            return Err(BedrockError::msg(message.unwrap_or_else(|| format!("create returned {rc}"))));
        }
        Ok(Box::new(CComponent { table: CTable(&self.table as *const bedrock_module), component }))
    }
}

#[derive(Clone, Copy)]
struct CTable(*const bedrock_module);

/// A component made by a C module.
pub struct CComponent {
    table: CTable,
    component: *mut c_void,
}

// SAFETY: see CModule; the component pointer belongs to the module.
unsafe impl Send for CComponent {}
// SAFETY: shared use only passes the module's component pointer to the
// module's own functions, which must allow calls from several threads.
unsafe impl Sync for CComponent {}

impl CComponent {
    fn table(&self) -> &bedrock_module {
        // SAFETY: modules are never unregistered, so the table lives forever.
        unsafe { &*self.table.0 }
    }

    pub fn handle(&self) -> *mut c_void {
        match self.table().get_handle {
            // SAFETY: the module's function with its component.
            Some(f) => unsafe { f(self.component) },
            None => self.component,
        }
    }
}

impl Component for CComponent {
    fn config(&self) -> serde_json::Value {
        let Some(f) = self.table().get_config else { return serde_json::json!({}) };
        // SAFETY: the module's function; it returns NULL or malloc'd text.
        let p = unsafe { f(self.component) };
        if p.is_null() {
            return serde_json::json!({});
        }
        // SAFETY: non-NULL, so NUL-terminated text from the module.
        let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        // SAFETY: malloc'd by the module (its documented contract), freed once.
        unsafe { libc::free(p as *mut c_void) };
        serde_json::from_str(&s).unwrap_or(serde_json::Value::String(s))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for CComponent {
    fn drop(&mut self) {
        if let Some(f) = self.table().destroy {
            // SAFETY: the module's destroy, once, with its component.
            unsafe { f(self.component) };
        }
    }
}

/// Registers a module under `name` (the `type` of providers). The table and
/// its dependency array are copied. Returns 0, or -1 if the name is taken or
/// an argument is invalid (a log line says which).
///
/// # Safety
/// `name` NUL-terminated; `module` NULL or a valid table whose dependency
/// strings are NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn bedrock_register_module(name: *const c_char, module: *const bedrock_module) -> c_int {
    guard("bedrock_register_module", -1, || {
        // SAFETY: by the contract `name` is NULL or NUL-terminated and
        // `module` NULL or a valid table.
        let (Some(name), Some(table)) = (unsafe { text(name) }, unsafe { module.as_ref() }) else {
            crate::error!("bedrock_register_module: NULL name or module");
            return -1;
        };
        let mut deps = Vec::new();
        for i in 0..table.num_dependencies {
            // SAFETY: a valid table's dependency array holds
            // num_dependencies entries (the contract), and i is below that.
            let d = unsafe { &*table.dependencies.add(i) };
            // SAFETY: the contract makes the dependency strings NULL or
            // NUL-terminated.
            let (Some(dn), Some(dt)) = (unsafe { text(d.name) }, unsafe { text(d.type_) }) else {
                crate::error!("bedrock_register_module({name}): dependency {i} has a NULL name or type");
                return -1;
            };
            deps.push(DependencyDecl {
                name: dn,
                type_name: dt,
                is_required: d.flags & BEDROCK_REQUIRED != 0,
                is_array: d.flags & BEDROCK_ARRAY != 0,
                is_updatable: d.flags & BEDROCK_UPDATABLE != 0,
            });
        }
        let copy = bedrock_module {
            dependencies: std::ptr::null(),
            num_dependencies: 0,
            create: table.create,
            destroy: table.destroy,
            get_config: table.get_config,
            get_handle: table.get_handle,
            get_dependencies: table.get_dependencies,
        };
        // Leaked on purpose: modules live as long as the process.
        let m: &'static CModule = Box::leak(Box::new(CModule { name, deps, table: copy }));
        if module::register(Arc::new(CModuleRef(m))) {
            0
        } else {
            -1
        }
    })
}

/// `Arc<dyn Module>` over a leaked module (so the table address is stable).
struct CModuleRef(&'static CModule);

impl Module for CModuleRef {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn dependencies(&self, args: &ComponentArgs) -> Result<Vec<DependencyDecl>, BedrockError> {
        self.0.dependencies(args)
    }
    fn create(&self, args: ComponentArgs) -> Result<Box<dyn Component>, BedrockError> {
        self.0.create(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_dependency_records_declarations_and_skips_null_names() {
        let mut deps: Vec<DependencyDecl> = Vec::new();
        let ctx = &mut deps as *mut Vec<DependencyDecl> as *mut c_void;
        // SAFETY: ctx points to a live Vec; strings valid or NULL.
        unsafe {
            add_dependency(ctx, c"pool".as_ptr(), c"pool".as_ptr(), BEDROCK_REQUIRED);
            add_dependency(ctx, c"dbs".as_ptr(), c"yokan".as_ptr(), BEDROCK_ARRAY | BEDROCK_UPDATABLE);
            add_dependency(ctx, std::ptr::null(), c"t".as_ptr(), 0);
            add_dependency(ctx, c"n".as_ptr(), std::ptr::null(), 0);
            add_dependency(std::ptr::null_mut(), c"n".as_ptr(), c"t".as_ptr(), 0);
        }
        assert_eq!(deps.len(), 2);
        assert_eq!((deps[0].name.as_str(), deps[0].type_name.as_str()), ("pool", "pool"));
        assert!(deps[0].is_required && !deps[0].is_array && !deps[0].is_updatable);
        assert!(!deps[1].is_required && deps[1].is_array && deps[1].is_updatable);
    }
}
