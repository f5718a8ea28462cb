//! What a message is: its class and its content categories.
//!
//! A leaf of the compliance modules: the rule packs say which classes and categories a
//! rule applies to, and [`super::decision`] decides on a message that carries them.

/// The class of a message (docs/compliance.md § Decision 1). Undeclared means marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(serde::Serialize, serde::Deserialize)]
pub enum Class {
    /// Alerts, reminders, OTP, account notices.
    Transactional,
    /// Promotion; the default.
    #[default]
    Marketing,
    /// A reply inside a conversation the recipient started.
    Conversational,
}

impl Class {
    /// The name used on the command line and in JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Class::Transactional => "transactional",
            Class::Marketing => "marketing",
            Class::Conversational => "conversational",
        }
    }

    /// Parses a class name.
    pub fn parse(text: &str) -> Option<Class> {
        [
            Class::Transactional,
            Class::Marketing,
            Class::Conversational,
        ]
        .into_iter()
        .find(|c| c.name() == text)
    }
}

/// A set of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClassSet(u8);

impl ClassSet {
    /// Every class.
    pub const ALL: ClassSet = ClassSet(0b111);

    /// Just `class`.
    pub const fn only(class: Class) -> ClassSet {
        ClassSet(1 << class as u8)
    }

    /// The set plus `class`.
    pub const fn with(self, class: Class) -> ClassSet {
        ClassSet(self.0 | 1 << class as u8)
    }

    /// True if `class` is in the set.
    pub const fn contains(self, class: Class) -> bool {
        self.0 & (1 << class as u8) != 0
    }
}

/// A content category a pack may refuse (docs/compliance.md § Decision 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Category {
    /// Political campaigns, parties, candidates.
    Political,
    /// Alcohol.
    Alcohol,
    /// Tobacco.
    Tobacco,
    /// Gambling.
    Gambling,
    /// Adult content.
    Adult,
    /// Cannabis and CBD.
    Cannabis,
    /// Firearms.
    Firearms,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 7] = [
        Category::Political,
        Category::Alcohol,
        Category::Tobacco,
        Category::Gambling,
        Category::Adult,
        Category::Cannabis,
        Category::Firearms,
    ];

    /// The name used on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Category::Political => "political",
            Category::Alcohol => "alcohol",
            Category::Tobacco => "tobacco",
            Category::Gambling => "gambling",
            Category::Adult => "adult",
            Category::Cannabis => "cannabis",
            Category::Firearms => "firearms",
        }
    }

    /// Parses a category name.
    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == text)
    }
}

/// A set of content categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[derive(serde::Serialize, serde::Deserialize)]
pub struct CategorySet(u8);

impl CategorySet {
    /// No category.
    pub const EMPTY: CategorySet = CategorySet(0);

    /// The set plus `c`.
    pub const fn with(self, c: Category) -> CategorySet {
        CategorySet(self.0 | 1 << c as u8)
    }

    /// True if `c` is in the set.
    pub const fn contains(self, c: Category) -> bool {
        self.0 & (1 << c as u8) != 0
    }

    /// True if the sets share a category.
    pub const fn intersects(self, other: CategorySet) -> bool {
        self.0 & other.0 != 0
    }

    /// The first category in both sets.
    pub fn first_common(self, other: CategorySet) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|&c| self.contains(c) && other.contains(c))
    }
}
