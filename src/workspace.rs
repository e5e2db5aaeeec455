//! A workspace: one manifest and the state slugplan keeps beside it.
//!
//! Opening a workspace runs the first steps of the flow (manifest → desired state → graph), so
//! every command that deploys starts from the same validated, resolved view. Beside the
//! manifest, `.slugplan/` holds `state/` (uploads, releases made, the audit log, the apply lock)
//! and, on the local platform, `platform/` (the embedded platform's apps, releases and blobs).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::desired::DesiredState;
use crate::graph::{GraphError, StepGraph};
use crate::manifest::{self, LoadedManifest, ManifestError};
use crate::state::{State, StateError};

/// Errors opening a workspace.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum WorkspaceError {
    /// The manifest is unreadable or invalid.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] ManifestError),
    /// The steps form a cycle.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
}

/// A loaded manifest, its desired state and step graph, and where its state lives.
#[derive(Debug)]
pub struct Workspace {
    /// The manifest.
    pub loaded: LoadedManifest,
    /// SHA-256 (hex) of the manifest's bytes; saved plans carry it.
    pub manifest_sha256: String,
    /// What the manifest asks for.
    pub desired: DesiredState,
    /// The steps.
    pub graph: StepGraph,
}

impl Workspace {
    /// Loads and resolves the manifest at `path`.
    pub fn open(path: &Path) -> Result<Self, WorkspaceError> {
        let loaded = manifest::load(path)?;
        let manifest_sha256 = hex::encode(Sha256::digest(loaded.text.as_bytes()));
        let desired = DesiredState::from_manifest(&loaded);
        let graph = StepGraph::build(&desired)?;
        Ok(Workspace {
            loaded,
            manifest_sha256,
            desired,
            graph,
        })
    }

    /// `.slugplan/` beside the manifest.
    pub fn dot_dir(&self) -> PathBuf {
        self.loaded.dir.join(".slugplan")
    }

    /// Where slugplan's own state lives.
    pub fn state_dir(&self) -> PathBuf {
        self.dot_dir().join("state")
    }

    /// Where the local platform keeps its data (`[platform] data_dir`, default
    /// `.slugplan/platform`).
    pub fn platform_data_dir(&self) -> PathBuf {
        match &self.loaded.manifest.platform.data_dir {
            Some(dir) => self.loaded.resolve(dir),
            None => self.dot_dir().join("platform"),
        }
    }

    /// Opens the state database.
    pub fn open_state(&self) -> Result<State, StateError> {
        State::open(&self.state_dir())
    }
}
