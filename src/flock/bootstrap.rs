//! Initial views: from ourselves, from a view file, from MPI (see
//! `bootstrap_mpi`).

use super::error::Result;
use super::view::GroupView;
use super::view_file;
use crate::rpc::Engine;
use std::path::Path;

/// A view holding only this engine's provider.
pub fn from_self(engine: &Engine, provider_id: u16) -> GroupView {
    let mut v = GroupView::new();
    v.add_member(engine.self_address().as_str(), provider_id);
    v
}

/// The view stored in a group file.
pub fn from_file(path: &Path) -> Result<GroupView> {
    Ok(view_file::from_file(path)?)
}
