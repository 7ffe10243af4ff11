//! The consume-queue stage tag filter (docs/broker/filters.md#tag-filter, Java `ExpressionMessageFilter`): a
//! message passes when the subscription is `*`, or when its tags code (as a Java `int`) is in the
//! subscription's code set. Hash collisions are left to the client, which re-checks the tag.

use std::collections::HashSet;

use rmq_protocol::body::SubscriptionData;

/// What a pull may return, decided on the tags code alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    All,
    Codes(HashSet<i32>),
}

impl TagFilter {
    pub fn from_subscription(sub: &SubscriptionData) -> TagFilter {
        if sub.is_all() {
            TagFilter::All
        } else {
            TagFilter::Codes(sub.code_set.iter().copied().collect())
        }
    }

    pub fn matches(&self, tags_code: i64) -> bool {
        match self {
            TagFilter::All => true,
            TagFilter::Codes(codes) => codes.contains(&(tags_code as i32)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::message::tag_hash;

    #[test]
    fn tag_expressions() {
        let all = TagFilter::from_subscription(&SubscriptionData::from_tag_expression("T", "*", 1));
        assert!(all.matches(tag_hash("X")) && all.matches(0));
        let ab = TagFilter::from_subscription(&SubscriptionData::from_tag_expression("T", "TagA || TagB", 1));
        assert!(ab.matches(tag_hash("TagA")));
        assert!(ab.matches(tag_hash("TagB")));
        assert!(!ab.matches(tag_hash("TagC")));
        assert!(!ab.matches(0));
    }
}
