//! What `#[cached]` declares on a route: for how long, for whom, under
//! which key and tags. Plain data; the response cache that applies it is
//! in the web wing (`web/response_cache`).

use std::borrow::Cow;
use std::time::Duration;

/// How a route's successful responses are cached: for how long, shared by
/// everyone or per user, under which key.
///
/// `#[cached(ttl = 300)]` builds `CachePolicy::ttl_secs(300)`; by hand it
/// goes on the route with [`RouteInfo::cache`](crate::RouteInfo::cache).
///
/// ```
/// use xcore::cache::CachePolicy;
///
/// let policy = CachePolicy::ttl_secs(300).key("produits:all");
/// assert_eq!(policy.ttl().as_secs(), 300);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    ttl: Duration,
    shared: bool,
    vary_query: bool,
    key: Option<Cow<'static, str>>,
    tags: Vec<Cow<'static, str>>,
}

impl CachePolicy {
    /// Cache for `secs` seconds.
    pub fn ttl_secs(secs: u64) -> Self {
        CachePolicy {
            ttl: Duration::from_secs(secs),
            shared: false,
            vary_query: false,
            key: None,
            tags: Vec::new(),
        }
    }

    /// Without a key template, one entry per query string too (`#[cached]`
    /// sets it when the handler takes a `Query`). Off, the query is left
    /// out of the key, so clients cannot mint entries by adding parameters
    /// the handler never reads. Queries longer than 512 bytes are served
    /// uncached.
    pub fn vary_query(mut self) -> Self {
        self.vary_query = true;
        self
    }

    /// On a guarded route, one entry for every user instead of one per user.
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// The key template: literal text with `{param}` (a path parameter),
    /// `{query.name}` (a query parameter) and `{user}` (the user's id).
    pub fn key(mut self, template: impl Into<Cow<'static, str>>) -> Self {
        self.key = Some(template.into());
        self
    }

    /// Tags carried by every entry, templates as keys are (`"prets:{user}"`):
    /// [`Cache::invalidate_tags`](super::Cache::invalidate_tags) with one of them, or a route declaring
    /// `#[invalidates(...)]` of it, removes the entries, whichever plugin
    /// asks.
    ///
    /// ```
    /// use xcore::cache::CachePolicy;
    ///
    /// let policy = CachePolicy::ttl_secs(30).tags(["livres", "prets:{user}"]);
    /// assert_eq!(policy.tag_templates().collect::<Vec<_>>(), ["livres", "prets:{user}"]);
    /// ```
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Cow<'static, str>>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// The tag templates.
    pub fn tag_templates(&self) -> impl ExactSizeIterator<Item = &str> {
        self.tags.iter().map(|tag| tag.as_ref())
    }

    /// How long entries live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether entries are shared by all users.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Whether the default key holds the query string.
    pub fn varies_by_query(&self) -> bool {
        self.vary_query
    }

    /// The key template, if any.
    pub fn key_template(&self) -> Option<&str> {
        self.key.as_deref()
    }
}
