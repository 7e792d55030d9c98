//! Paging links for list screens: the filters of the current URL kept, `page`
//! replaced.

use broadnet_store::Page as StorePage;

/// Where a list is in its pages, and the query it came from.
pub struct Pager {
    pub path: &'static str,
    /// The query's pairs but `page`.
    pub query: Vec<(String, String)>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

impl Pager {
    pub fn new<T>(path: &'static str, query: &[(String, String)], page: &StorePage<T>) -> Pager {
        Pager {
            path,
            query: query.iter().filter(|(k, v)| k != "page" && !v.is_empty()).cloned().collect(),
            page: page.page.max(1),
            per_page: page.per_page.max(1),
            total: page.total,
        }
    }

    pub fn first(&self) -> String {
        super::fmt::count(((self.page - 1) * self.per_page + 1).min(self.total) as i64)
    }

    pub fn last(&self) -> String {
        super::fmt::count((self.page * self.per_page).min(self.total) as i64)
    }

    pub fn total_text(&self) -> String {
        super::fmt::count(self.total as i64)
    }

    pub fn prev(&self) -> Option<String> {
        (self.page > 1).then(|| self.href(self.page - 1))
    }

    pub fn next(&self) -> Option<String> {
        (self.page * self.per_page < self.total).then(|| self.href(self.page + 1))
    }

    /// This list with other filters: `with(&[("status", "expired")])`.
    pub fn with(&self, set: &[(&str, &str)]) -> String {
        let mut q: Vec<(String, String)> =
            self.query.iter().filter(|(k, _)| !set.iter().any(|(s, _)| s == k)).cloned().collect();
        q.extend(set.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())));
        href(self.path, &q)
    }

    /// The value of a filter in the current query ("" when absent).
    pub fn get(&self, key: &str) -> &str {
        self.query.iter().rev().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str())
    }

    fn href(&self, page: u64) -> String {
        let mut q = self.query.clone();
        if page > 1 {
            q.push(("page".into(), page.to_string()));
        }
        href(self.path, &q)
    }
}

/// `path?k=v&…`, encoded.
pub fn href(path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        s.append_pair(k, v);
    }
    format!("{path}?{}", s.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pager(page: u64, total: u64) -> Pager {
        let items: Vec<()> = Vec::new();
        let q = vec![("q".to_string(), "a b".to_string()), ("page".to_string(), "3".to_string())];
        Pager::new("/customers", &q, &StorePage { items, total, page, per_page: 50 })
    }

    #[test]
    fn links_keep_the_filters() {
        let p = pager(1, 120);
        assert_eq!(p.prev(), None);
        assert_eq!(p.next().as_deref(), Some("/customers?q=a+b&page=2"));
        assert_eq!((p.first(), p.last()), ("1".to_string(), "50".to_string()));
        let p = pager(3, 120);
        assert_eq!(p.next(), None);
        assert_eq!(p.prev().as_deref(), Some("/customers?q=a+b&page=2"));
        assert_eq!(p.last(), "120");
        assert_eq!(pager(2, 120).prev().as_deref(), Some("/customers?q=a+b"));
        assert_eq!(p.with(&[("status", "expired")]), "/customers?q=a+b&status=expired");
        assert_eq!(p.get("q"), "a b");
    }
}
