//! slugplan's integration tests: one binary, one module per area, real tools and real servers.

mod common;

mod app_path;
mod build;
mod ci;
mod cli;
mod config;
mod deploy;
mod destroy;
mod dynos;
mod examples;
mod fuzz;
mod go;
mod heroku;
mod incremental;
mod init;
mod json;
mod manifest;
mod open;
mod own_files;
mod platform;
mod promote;
mod reliability;
mod router;
mod runtime;
mod server;
mod show;
mod slug;
mod state;
