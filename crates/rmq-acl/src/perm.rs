//! Permission bits and their text form in `plain_acl.yml` (Java `acl/.../common/Permission.java`).

/// A set of permission bits, as Java's `byte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perm(pub u8);

impl Perm {
    pub const DENY: Perm = Perm(1);
    /// Needs PUB or SUB, either will do.
    pub const ANY: Perm = Perm(1 << 1);
    pub const PUB: Perm = Perm(1 << 2);
    pub const SUB: Perm = Perm(1 << 3);
    pub const PUB_SUB: Perm = Perm((1 << 2) | (1 << 3));

    /// `Permission.parsePermFromString`: `PUB`, `SUB`, `PUB|SUB`, `SUB|PUB`, `DENY`; anything else
    /// (and a missing value) is DENY.
    pub fn parse(s: Option<&str>) -> Perm {
        match s.map(str::trim) {
            Some("PUB") => Perm::PUB,
            Some("SUB") => Perm::SUB,
            Some("PUB|SUB") | Some("SUB|PUB") => Perm::PUB_SUB,
            _ => Perm::DENY,
        }
    }

    /// Whether `s` is one of the five spellings [`Perm::parse`] knows (Java
    /// `Permission.checkResourcePerms`, used when accounts are updated over the wire).
    pub fn is_valid_text(s: &str) -> bool {
        matches!(s.trim(), "PUB" | "SUB" | "PUB|SUB" | "SUB|PUB" | "DENY")
    }

    /// `Permission.checkPermission`: DENY in `owned` refuses; ANY needs PUB or SUB; otherwise any
    /// common bit.
    pub fn allows(owned: Perm, needed: Perm) -> bool {
        if owned.0 & Perm::DENY.0 != 0 {
            return false;
        }
        if needed.0 & Perm::ANY.0 != 0 {
            return owned.0 & (Perm::PUB.0 | Perm::SUB.0) != 0;
        }
        needed.0 & owned.0 != 0
    }

    /// The text form written back to `plain_acl.yml`.
    pub fn as_text(self) -> &'static str {
        match self {
            Perm::PUB => "PUB",
            Perm::SUB => "SUB",
            Perm::PUB_SUB => "PUB|SUB",
            _ => "DENY",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_allow_as_java() {
        assert_eq!(Perm::parse(Some(" PUB ")), Perm::PUB);
        assert_eq!(Perm::parse(Some("SUB|PUB")), Perm::PUB_SUB);
        assert_eq!(Perm::parse(Some("pub")), Perm::DENY);
        assert_eq!(Perm::parse(None), Perm::DENY);
        assert!(Perm::allows(Perm::PUB_SUB, Perm::SUB));
        assert!(!Perm::allows(Perm::PUB, Perm::SUB));
        assert!(!Perm::allows(Perm::DENY, Perm::SUB));
        assert!(Perm::allows(Perm::SUB, Perm::ANY));
        assert!(!Perm::allows(Perm(Perm::DENY.0 | Perm::SUB.0), Perm::SUB));
    }
}
