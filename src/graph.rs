//! The step graph: every piece of work a deploy can need, with its dependencies.
//!
//! Built from the [`DesiredState`] alone (no platform access), so `slugplan graph` works offline
//! and the shape of a deploy is reviewable before anything runs. Each step has a stable
//! [`Address`] (`runtime.node`, `build.api`, `slug.web@heroku-24`, `upload.web→web-staging`,
//! `config.web-staging`, `release.web-staging`, `coupling.web-prod`, `promote.web-prod`,
//! `formation.web-prod.web`) that plans, saved plans, `--target` and the audit log all use.
//!
//! The dependency chain is fetch runtime → Go build → assemble slug → upload → release →
//! promote. A promotion also waits for the pipeline couplings of its source and target, so a
//! pipeline the manifest declares exists before the promotion that goes through it. An upload
//! goes through one app's platform record; every app running the slug gets that slug id
//! released to it, so one slug for ten apps is one build and one upload.
//!
//! An app's config comes before its release or promotion: new code may need a new key, so the
//! app never runs new code with old config (on Heroku the config change is a release of its
//! own, so a deploy that changes both makes two releases). Its formation comes after: a process
//! type can only be scaled once a release has brought it.
//!
//! `--target` keeps the named steps and what they need ([`Targeting`]); an app's name stands for
//! its release or promotion and its formation steps. A promotion needs its source's release only
//! to run after it: targeting a promotion alone promotes what the source runs now, and releases
//! the source first only when the source is named too.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};

use crate::desired::{AppSource, DesiredState};

/// A step's stable name, e.g. `release.web-staging`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Address(pub String);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// Fetch, verify and unpack a runtime.
    FetchRuntime {
        /// The runtime's name.
        runtime: String,
    },
    /// Cross-compile a slug's Go program.
    GoBuild {
        /// The slug's name.
        slug: String,
    },
    /// Assemble a slug archive.
    AssembleSlug {
        /// The slug's name.
        slug: String,
        /// Its stack.
        stack: String,
    },
    /// Make sure an app exists on the platform.
    EnsureApp {
        /// The app's name.
        app: String,
    },
    /// Create the slug on the platform (through `app`) and upload its archive.
    Upload {
        /// The slug's name.
        slug: String,
        /// The app whose slug record is created.
        app: String,
    },
    /// Release a slug of the manifest to an app.
    Release {
        /// The app's name.
        app: String,
        /// The slug's name.
        slug: String,
    },
    /// Couple `app` to `pipeline` at `stage`, creating the pipeline if needed.
    Couple {
        /// The app's name.
        app: String,
        /// The pipeline's name.
        pipeline: String,
        /// The stage, as the API spells it (`staging`, `production`, …).
        stage: String,
    },
    /// Release to `app` what `from` runs.
    Promote {
        /// The target app.
        app: String,
        /// The source app.
        from: String,
    },
    /// Set and unset the config vars slugplan manages on `app`.
    Config {
        /// The app.
        app: String,
    },
    /// Scale (and size) one process type of `app`.
    Formation {
        /// The app.
        app: String,
        /// The process type, e.g. `web`.
        process_type: String,
    },
}

impl StepKind {
    /// The step's address.
    pub fn address(&self) -> Address {
        Address(match self {
            StepKind::FetchRuntime { runtime } => format!("runtime.{runtime}"),
            StepKind::GoBuild { slug } => format!("build.{slug}"),
            StepKind::AssembleSlug { slug, stack } => format!("slug.{slug}@{stack}"),
            StepKind::EnsureApp { app } => format!("app.{app}"),
            StepKind::Upload { slug, app } => format!("upload.{slug}→{app}"),
            StepKind::Release { app, .. } => format!("release.{app}"),
            StepKind::Couple { app, .. } => format!("coupling.{app}"),
            StepKind::Promote { app, .. } => format!("promote.{app}"),
            StepKind::Config { app } => format!("config.{app}"),
            StepKind::Formation { app, process_type } => format!("formation.{app}.{process_type}"),
        })
    }

    /// The app this step changes, if it changes one.
    pub fn app(&self) -> Option<&str> {
        match self {
            StepKind::EnsureApp { app }
            | StepKind::Couple { app, .. }
            | StepKind::Release { app, .. }
            | StepKind::Promote { app, .. }
            | StepKind::Config { app }
            | StepKind::Formation { app, .. } => Some(app),
            _ => None,
        }
    }
}

/// Errors in the shape of the graph.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    /// The steps depend on each other in a circle.
    #[error("the deploy steps form a cycle: {}", cycle.join(" → "))]
    #[diagnostic(
        code(slugplan::graph::cycle),
        help("check the promote_from entries of the apps named")
    )]
    Cycle {
        /// The addresses in the cycle.
        cycle: Vec<String>,
    },
    /// `--target` named no step of the graph.
    #[error("no step is named `{address}`")]
    #[diagnostic(help("`slugplan graph` lists every step's address; known apps: {known}"))]
    UnknownTarget {
        /// The address asked for.
        address: String,
        /// The apps the graph knows.
        known: String,
    },
}

/// What `--target` keeps of a graph: the steps named and what they need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targeting {
    /// The steps named (an app's name stands for its release or promote step).
    pub named: BTreeSet<Address>,
    /// The named steps and every step they need, transitively.
    pub kept: BTreeSet<Address>,
}

impl Targeting {
    /// Whether `address` stays in the plan.
    pub fn keeps(&self, address: &Address) -> bool {
        self.kept.contains(address)
    }

    /// Whether `address` was named by a `--target`.
    pub fn names(&self, address: &Address) -> bool {
        self.named.contains(address)
    }
}

/// The dependency graph of a deploy's steps.
#[derive(Debug, Clone)]
pub struct StepGraph {
    graph: DiGraph<StepKind, ()>,
    index: HashMap<Address, NodeIndex>,
}

impl StepGraph {
    /// Builds the graph of everything `desired` can need.
    pub fn build(desired: &DesiredState) -> Result<Self, GraphError> {
        let mut g = StepGraph {
            graph: DiGraph::new(),
            index: HashMap::new(),
        };
        let deployed = desired.deployed_slugs();
        for app in desired.apps.values() {
            g.add(StepKind::EnsureApp {
                app: app.name.clone(),
            });
        }
        for slug in desired.slugs.values() {
            if !deployed.contains(slug.name.as_str()) {
                continue;
            }
            let assemble = g.add(StepKind::AssembleSlug {
                slug: slug.name.clone(),
                stack: slug.stack.clone(),
            });
            for runtime in &slug.runtimes {
                let fetch = g.add(StepKind::FetchRuntime {
                    runtime: runtime.clone(),
                });
                g.graph.update_edge(fetch, assemble, ());
            }
            if slug.go {
                let build = g.add(StepKind::GoBuild {
                    slug: slug.name.clone(),
                });
                g.graph.update_edge(build, assemble, ());
            }
            if let Some(via) = &slug.upload_via {
                let upload = g.add(StepKind::Upload {
                    slug: slug.name.clone(),
                    app: via.clone(),
                });
                g.graph.update_edge(assemble, upload, ());
                g.edge_from_app(via, upload);
            }
        }
        for app in desired.apps.values() {
            let step = match &app.source {
                AppSource::Slug(slug) => StepKind::Release {
                    app: app.name.clone(),
                    slug: slug.clone(),
                },
                AppSource::PromoteFrom(from) => StepKind::Promote {
                    app: app.name.clone(),
                    from: from.clone(),
                },
            };
            let node = g.add(step);
            g.edge_from_app(&app.name, node);
        }
        for app in desired.apps.values() {
            if let (Some(pipeline), Some(stage)) = (&app.pipeline, app.stage) {
                let couple = g.add(StepKind::Couple {
                    app: app.name.clone(),
                    pipeline: pipeline.clone(),
                    stage: stage.as_str().to_owned(),
                });
                g.edge_from_app(&app.name, couple);
            }
        }
        for app in desired.apps.values() {
            let node = g
                .node_of_app(&app.name)
                .expect("every app has a deploy step");
            match &app.source {
                AppSource::Slug(slug) => {
                    let via = desired.slugs.get(slug).and_then(|s| s.upload_via.clone());
                    if let Some(via) = via {
                        let upload = g.index[&StepKind::Upload {
                            slug: slug.clone(),
                            app: via,
                        }
                        .address()];
                        g.graph.update_edge(upload, node, ());
                    }
                }
                AppSource::PromoteFrom(from) => {
                    if let Some(source) = g.node_of_app(from) {
                        g.graph.update_edge(source, node, ());
                    }
                    for app in [from, &app.name] {
                        let couple = Address(format!("coupling.{app}"));
                        if let Some(&couple) = g.index.get(&couple) {
                            g.graph.update_edge(couple, node, ());
                        }
                    }
                }
            }
        }
        for app in desired.apps.values() {
            let deploy = g
                .node_of_app(&app.name)
                .expect("every app has a deploy step");
            if app.config.is_some() {
                let config = g.add(StepKind::Config {
                    app: app.name.clone(),
                });
                g.edge_from_app(&app.name, config);
                g.graph.update_edge(config, deploy, ());
            }
            for process_type in app.formation.keys() {
                let formation = g.add(StepKind::Formation {
                    app: app.name.clone(),
                    process_type: process_type.clone(),
                });
                g.edge_from_app(&app.name, formation);
                g.graph.update_edge(deploy, formation, ());
            }
        }
        g.check_acyclic()?;
        Ok(g)
    }

    fn add(&mut self, step: StepKind) -> NodeIndex {
        let address = step.address();
        if let Some(&node) = self.index.get(&address) {
            return node;
        }
        let node = self.graph.add_node(step);
        self.index.insert(address, node);
        node
    }

    fn edge_from_app(&mut self, app: &str, to: NodeIndex) {
        let ensure = self.index[&StepKind::EnsureApp { app: app.into() }.address()];
        self.graph.update_edge(ensure, to, ());
    }

    /// The release or promote step of `app`.
    fn node_of_app(&self, app: &str) -> Option<NodeIndex> {
        self.index
            .get(&Address(format!("release.{app}")))
            .or_else(|| self.index.get(&Address(format!("promote.{app}"))))
            .copied()
    }

    fn check_acyclic(&self) -> Result<(), GraphError> {
        match petgraph::algo::toposort(&self.graph, None) {
            Ok(_) => Ok(()),
            Err(cycle) => {
                let scc = petgraph::algo::tarjan_scc(&self.graph)
                    .into_iter()
                    .find(|component| component.contains(&cycle.node_id()))
                    .unwrap_or_default();
                let mut names: Vec<String> =
                    scc.iter().map(|&n| self.graph[n].address().0).collect();
                names.sort();
                if let Some(first) = names.first().cloned() {
                    names.push(first);
                }
                Err(GraphError::Cycle { cycle: names })
            }
        }
    }

    /// Every step in an order where each comes after all it depends on. Ties are broken by
    /// address so the order is the same on every run.
    pub fn ordered(&self) -> Vec<&StepKind> {
        let mut indegree: HashMap<NodeIndex, usize> = self
            .graph
            .node_indices()
            .map(|n| {
                let deps = self
                    .graph
                    .neighbors_directed(n, Direction::Incoming)
                    .count();
                (n, deps)
            })
            .collect();
        let mut ready: BTreeMap<Address, NodeIndex> = indegree
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(&n, _)| (self.graph[n].address(), n))
            .collect();
        let mut order = Vec::with_capacity(self.graph.node_count());
        while let Some((_, node)) = ready.pop_first() {
            order.push(&self.graph[node]);
            for next in self.graph.neighbors_directed(node, Direction::Outgoing) {
                let d = indegree.get_mut(&next).expect("known node");
                *d -= 1;
                if *d == 0 {
                    ready.insert(self.graph[next].address(), next);
                }
            }
        }
        order
    }

    /// The step at `address`.
    pub fn step(&self, address: &Address) -> Option<&StepKind> {
        self.index.get(address).map(|&n| &self.graph[n])
    }

    /// The addresses `address` directly depends on, sorted.
    pub fn dependencies(&self, address: &Address) -> Vec<Address> {
        let Some(&node) = self.index.get(address) else {
            return Vec::new();
        };
        let mut deps: Vec<Address> = self
            .graph
            .neighbors_directed(node, Direction::Incoming)
            .map(|n| self.graph[n].address())
            .collect();
        deps.sort();
        deps
    }

    /// What `targets` (addresses, or apps' names) keep: each named step and what it needs.
    pub fn targeting(&self, targets: &[String]) -> Result<Targeting, GraphError> {
        let mut targeting = Targeting::default();
        for target in targets {
            for start in self.resolve(target)? {
                targeting.named.insert(self.graph[start].address());
                targeting.kept.extend(self.needed_by(start));
            }
        }
        Ok(targeting)
    }

    /// The steps needed for `target` (an address, or an app's name): the step itself and
    /// everything it depends on, transitively, except a promotion's source release (see the
    /// module docs).
    pub fn closure(&self, target: &str) -> Result<BTreeSet<Address>, GraphError> {
        let mut out = BTreeSet::new();
        for start in self.resolve(target)? {
            out.extend(self.needed_by(start));
        }
        Ok(out)
    }

    /// The steps `target` names: the step at that address, or an app's release or promotion
    /// and its formation steps.
    fn resolve(&self, target: &str) -> Result<Vec<NodeIndex>, GraphError> {
        if let Some(&node) = self.index.get(&Address(target.to_owned())) {
            return Ok(vec![node]);
        }
        let deploy = self
            .node_of_app(target)
            .ok_or_else(|| GraphError::UnknownTarget {
                address: target.to_owned(),
                known: self.apps().join(", "),
            })?;
        let formation = self.graph.node_indices().filter(
            |&n| matches!(&self.graph[n], StepKind::Formation { app, .. } if app == target),
        );
        Ok(std::iter::once(deploy).chain(formation).collect())
    }

    /// `start` and what it needs: every step it depends on, transitively, but not across the
    /// edge from a promotion's source release (or promotion) to the promotion.
    fn needed_by(&self, start: NodeIndex) -> BTreeSet<Address> {
        let mut seen = BTreeSet::from([start]);
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            let source_step = match &self.graph[node] {
                StepKind::Promote { from, .. } => self.node_of_app(from),
                _ => None,
            };
            for dep in self.graph.neighbors_directed(node, Direction::Incoming) {
                if Some(dep) != source_step && seen.insert(dep) {
                    stack.push(dep);
                }
            }
        }
        seen.into_iter().map(|n| self.graph[n].address()).collect()
    }

    fn apps(&self) -> Vec<String> {
        let mut apps: Vec<String> = self
            .graph
            .node_weights()
            .filter_map(|s| match s {
                StepKind::EnsureApp { app } => Some(app.clone()),
                _ => None,
            })
            .collect();
        apps.sort();
        apps
    }

    /// The graph in Graphviz DOT, nodes and edges sorted for stable output.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph slugplan {\n  rankdir=LR;\n  node [shape=box];\n");
        for step in self.ordered() {
            out.push_str(&format!("  \"{}\";\n", step.address()));
        }
        let mut edges: Vec<(Address, Address)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[a].address(), self.graph[b].address()))
            .collect();
        edges.sort();
        for (a, b) in edges {
            out.push_str(&format!("  \"{a}\" -> \"{b}\";\n"));
        }
        out.push_str("}\n");
        out
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Whether the graph has no steps.
    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{LoadedManifest, Manifest};

    fn graph(toml_text: &str) -> StepGraph {
        let loaded = LoadedManifest {
            path: "slug.toml".into(),
            dir: ".".into(),
            text: toml_text.to_owned(),
            manifest: toml::from_str::<Manifest>(toml_text).unwrap(),
        };
        StepGraph::build(&DesiredState::from_manifest(&loaded)).unwrap()
    }

    const THREE_APPS: &str = r#"
        [runtimes.node]
        path = "node"
        [slugs.web]
        runtimes = ["node"]
        [slugs.api]
        go = { output = "api" }
        [apps.web-staging]
        slug = "web"
        [apps.web-prod]
        promote_from = "web-staging"
        [apps.api-staging]
        slug = "api"
    "#;

    #[test]
    fn steps_come_after_their_dependencies() {
        let g = graph(THREE_APPS);
        let order: Vec<String> = g.ordered().iter().map(|s| s.address().0).collect();
        let pos = |a: &str| order.iter().position(|x| x == a).unwrap();
        assert!(pos("runtime.node") < pos("slug.web@heroku-24"));
        assert!(pos("build.api") < pos("slug.api@heroku-24"));
        assert!(pos("slug.web@heroku-24") < pos("upload.web→web-staging"));
        assert!(pos("upload.web→web-staging") < pos("release.web-staging"));
        assert!(pos("release.web-staging") < pos("promote.web-prod"));
        assert_eq!(order.len(), g.len());
    }

    fn addresses(set: BTreeSet<Address>) -> Vec<String> {
        set.into_iter().map(|a| a.0).collect()
    }

    #[test]
    fn target_closure_holds_only_what_the_app_needs() {
        let g = graph(THREE_APPS);
        assert_eq!(
            addresses(g.closure("web-staging").unwrap()),
            [
                "app.web-staging",
                "release.web-staging",
                "runtime.node",
                "slug.web@heroku-24",
                "upload.web→web-staging"
            ]
        );
        assert!(matches!(
            g.closure("nope"),
            Err(GraphError::UnknownTarget { .. })
        ));
    }

    #[test]
    fn a_targeted_promotion_leaves_its_source_release_out_unless_named_too() {
        let g = graph(THREE_APPS);
        // Promoting what staging runs now needs neither a build nor staging's release.
        let alone = g.targeting(&["web-prod".into()]).unwrap();
        assert_eq!(addresses(alone.named.clone()), ["promote.web-prod"]);
        assert_eq!(addresses(alone.kept), ["app.web-prod", "promote.web-prod"]);
        let both = g
            .targeting(&["web-prod".into(), "release.web-staging".into()])
            .unwrap();
        assert_eq!(
            addresses(both.named.clone()),
            ["promote.web-prod", "release.web-staging"]
        );
        assert_eq!(
            addresses(both.kept),
            [
                "app.web-prod",
                "app.web-staging",
                "promote.web-prod",
                "release.web-staging",
                "runtime.node",
                "slug.web@heroku-24",
                "upload.web→web-staging"
            ]
        );
        // The edge stays for ordering when both are in a plan.
        assert!(
            g.dependencies(&Address("promote.web-prod".into()))
                .contains(&Address("release.web-staging".into()))
        );
    }

    #[test]
    fn one_slug_for_many_apps_is_uploaded_once() {
        let g = graph(
            r#"
            [slugs.web]
            [apps.web-a]
            slug = "web"
            [apps.web-b]
            slug = "web"
            [apps.web-c]
            slug = "web"
            "#,
        );
        let uploads = g
            .ordered()
            .into_iter()
            .filter(|s| matches!(s, StepKind::Upload { .. }))
            .count();
        assert_eq!(uploads, 1);
        assert_eq!(
            g.dependencies(&Address("release.web-c".into())),
            [
                Address("app.web-c".into()),
                Address("upload.web→web-a".into())
            ]
        );
    }

    #[test]
    fn promotions_wait_for_both_couplings() {
        let g = graph(
            r#"
            [slugs.web]
            [apps.web-staging]
            slug = "web"
            pipeline = "web"
            stage = "staging"
            [apps.web-prod]
            promote_from = "web-staging"
            pipeline = "web"
            stage = "production"
            "#,
        );
        assert_eq!(
            g.dependencies(&Address("promote.web-prod".into())),
            [
                Address("app.web-prod".into()),
                Address("coupling.web-prod".into()),
                Address("coupling.web-staging".into()),
                Address("release.web-staging".into()),
            ]
        );
        assert_eq!(
            g.step(&Address("coupling.web-prod".into())),
            Some(&StepKind::Couple {
                app: "web-prod".into(),
                pipeline: "web".into(),
                stage: "production".into()
            })
        );
    }

    #[test]
    fn config_comes_before_the_release_and_formation_after_it() {
        let g = graph(
            r#"
            [slugs.web]
            process_types = { web = "node web.js", worker = "node worker.js" }
            [apps.web-staging]
            slug = "web"
            config = { GREETING = "hi" }
            formation = { web = 2, worker = { quantity = 1, size = "standard-1x" } }
            [apps.web-prod]
            promote_from = "web-staging"
            config = { GREETING = "hello" }
            formation = { web = 3 }
            "#,
        );
        let deps = |a: &str| g.dependencies(&Address(a.into()));
        assert_eq!(
            deps("release.web-staging"),
            [
                Address("app.web-staging".into()),
                Address("config.web-staging".into()),
                Address("upload.web→web-staging".into()),
            ]
        );
        assert!(deps("promote.web-prod").contains(&Address("config.web-prod".into())));
        assert_eq!(
            deps("formation.web-staging.worker"),
            [
                Address("app.web-staging".into()),
                Address("release.web-staging".into()),
            ]
        );
        assert!(
            deps("formation.web-prod.web").contains(&Address("promote.web-prod".into())),
            "after the promotion that brings the type"
        );
        let closure = g.closure("web-staging").unwrap();
        assert!(closure.contains(&Address("formation.web-staging.worker".into())));
        assert!(closure.contains(&Address("config.web-staging".into())));
        assert!(!closure.contains(&Address("config.web-prod".into())));
    }

    #[test]
    fn dot_output_lists_every_edge() {
        let dot = graph(THREE_APPS).to_dot();
        assert!(dot.starts_with("digraph slugplan {"));
        assert!(dot.contains("\"release.web-staging\" -> \"promote.web-prod\";"));
        assert!(dot.contains("\"runtime.node\" -> \"slug.web@heroku-24\";"));
    }
}
