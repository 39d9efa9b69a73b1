//! Stripe's documented test cards, test PaymentMethods (`pm_card_visa`, ...) and tokens
//! (`tok_visa`, ...), and what happens when each is charged.

use serde::{Deserialize, Serialize};

/// What a card does when it is charged or set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// The charge succeeds.
    Success,
    /// `card_declined` / `generic_decline`.
    GenericDecline,
    /// `card_declined` / `insufficient_funds`.
    InsufficientFunds,
    /// `card_declined` / `lost_card`.
    LostCard,
    /// `card_declined` / `stolen_card`.
    StolenCard,
    /// `card_declined` / `fraudulent`.
    Fraudulent,
    /// `expired_card`.
    ExpiredCard,
    /// `incorrect_cvc`.
    IncorrectCvc,
    /// `processing_error`.
    ProcessingError,
    /// Sets up and attaches fine, but charges are declined (`generic_decline`).
    ChargeFails,
    /// Every payment needs 3D Secure authentication.
    AuthAlways,
    /// Needs authentication unless the card was set up for off-session use.
    AuthUnlessSetUp,
}

/// How a declined charge is reported: error `code`, `decline_code` and message.
pub(crate) struct Decline {
    pub code: &'static str,
    pub decline_code: &'static str,
    pub message: &'static str,
}

impl Outcome {
    /// The decline this card produces on a charge, if it declines.
    pub fn charge_decline(self) -> Option<Decline> {
        let (code, decline_code, message) = match self {
            Outcome::GenericDecline | Outcome::ChargeFails => (
                "card_declined",
                "generic_decline",
                "Your card was declined.",
            ),
            Outcome::InsufficientFunds => (
                "card_declined",
                "insufficient_funds",
                "Your card has insufficient funds.",
            ),
            Outcome::LostCard => ("card_declined", "lost_card", "Your card was declined."),
            Outcome::StolenCard => ("card_declined", "stolen_card", "Your card was declined."),
            Outcome::Fraudulent => ("card_declined", "fraudulent", "Your card was declined."),
            Outcome::ExpiredCard => ("expired_card", "expired_card", "Your card has expired."),
            Outcome::IncorrectCvc => (
                "incorrect_cvc",
                "incorrect_cvc",
                "Your card's security code is incorrect.",
            ),
            Outcome::ProcessingError => (
                "processing_error",
                "processing_error",
                "An error occurred while processing your card. Try again in a little bit.",
            ),
            _ => return None,
        };
        Some(Decline {
            code,
            decline_code,
            message,
        })
    }

    /// The decline this card produces when it is set up (SetupIntent), if any.
    pub fn setup_decline(self) -> Option<Decline> {
        match self {
            Outcome::ChargeFails => None,
            other => other.charge_decline(),
        }
    }

    /// Whether a payment needs 3D Secure, given whether the card was set up for later use.
    pub fn needs_auth(self, set_up: bool) -> bool {
        match self {
            Outcome::AuthAlways => true,
            Outcome::AuthUnlessSetUp => !set_up,
            _ => false,
        }
    }
}

/// One test card.
pub(crate) struct TestCard {
    /// The card number.
    pub number: &'static str,
    /// Card brand as Stripe reports it.
    pub brand: &'static str,
    /// `credit`, `debit` or `prepaid`.
    pub funding: &'static str,
    /// What charging it does.
    pub outcome: Outcome,
    /// Names of the test PaymentMethod / token (`visa` for `pm_card_visa` and `tok_visa`).
    pub aliases: &'static [&'static str],
}

const fn card(
    number: &'static str,
    brand: &'static str,
    funding: &'static str,
    outcome: Outcome,
    aliases: &'static [&'static str],
) -> TestCard {
    TestCard {
        number,
        brand,
        funding,
        outcome,
        aliases,
    }
}

/// The test cards the mock knows by number and alias.
pub(crate) const CARDS: &[TestCard] = &[
    card(
        "4242424242424242",
        "visa",
        "credit",
        Outcome::Success,
        &["visa"],
    ),
    card(
        "4000056655665556",
        "visa",
        "debit",
        Outcome::Success,
        &["visa_debit"],
    ),
    card(
        "5555555555554444",
        "mastercard",
        "credit",
        Outcome::Success,
        &["mastercard"],
    ),
    card(
        "2223003122003222",
        "mastercard",
        "credit",
        Outcome::Success,
        &[],
    ),
    card(
        "5200828282828210",
        "mastercard",
        "debit",
        Outcome::Success,
        &["mastercard_debit"],
    ),
    card(
        "5105105105105100",
        "mastercard",
        "prepaid",
        Outcome::Success,
        &["mastercard_prepaid"],
    ),
    card(
        "378282246310005",
        "amex",
        "credit",
        Outcome::Success,
        &["amex"],
    ),
    card(
        "6011111111111117",
        "discover",
        "credit",
        Outcome::Success,
        &["discover"],
    ),
    card(
        "3056930009020004",
        "diners",
        "credit",
        Outcome::Success,
        &["diners"],
    ),
    card(
        "3566002020360505",
        "jcb",
        "credit",
        Outcome::Success,
        &["jcb"],
    ),
    card(
        "6200000000000005",
        "unionpay",
        "credit",
        Outcome::Success,
        &["unionpay"],
    ),
    card(
        "4000000000000077",
        "visa",
        "credit",
        Outcome::Success,
        &["bypassPending"],
    ),
    card(
        "4000000000000101",
        "visa",
        "credit",
        Outcome::Success,
        &["cvcCheckFail"],
    ),
    card(
        "4000000000000002",
        "visa",
        "credit",
        Outcome::GenericDecline,
        &["chargeDeclined", "visa_chargeDeclined"],
    ),
    card(
        "4000000000009995",
        "visa",
        "credit",
        Outcome::InsufficientFunds,
        &[
            "chargeDeclinedInsufficientFunds",
            "visa_chargeDeclinedInsufficientFunds",
        ],
    ),
    card(
        "4000000000009987",
        "visa",
        "credit",
        Outcome::LostCard,
        &["chargeDeclinedLostCard", "visa_chargeDeclinedLostCard"],
    ),
    card(
        "4000000000009979",
        "visa",
        "credit",
        Outcome::StolenCard,
        &["chargeDeclinedStolenCard", "visa_chargeDeclinedStolenCard"],
    ),
    card(
        "4100000000000019",
        "visa",
        "credit",
        Outcome::Fraudulent,
        &["chargeDeclinedFraudulent", "radarBlock"],
    ),
    card(
        "4000000000000069",
        "visa",
        "credit",
        Outcome::ExpiredCard,
        &[
            "chargeDeclinedExpiredCard",
            "visa_chargeDeclinedExpiredCard",
        ],
    ),
    card(
        "4000000000000127",
        "visa",
        "credit",
        Outcome::IncorrectCvc,
        &[
            "chargeDeclinedIncorrectCvc",
            "visa_chargeDeclinedIncorrectCvc",
        ],
    ),
    card(
        "4000000000000119",
        "visa",
        "credit",
        Outcome::ProcessingError,
        &[
            "chargeDeclinedProcessingError",
            "visa_chargeDeclinedProcessingError",
        ],
    ),
    card(
        "4000000000000341",
        "visa",
        "credit",
        Outcome::ChargeFails,
        &["chargeCustomerFail"],
    ),
    card(
        "4000002760003184",
        "visa",
        "credit",
        Outcome::AuthAlways,
        &["authenticationRequired"],
    ),
    card(
        "4000000000003220",
        "visa",
        "credit",
        Outcome::AuthAlways,
        &["threeDSecure2Required"],
    ),
    card(
        "4000000000003063",
        "visa",
        "credit",
        Outcome::AuthAlways,
        &["threeDSecureRequired"],
    ),
    card(
        "4000002500003155",
        "visa",
        "credit",
        Outcome::AuthUnlessSetUp,
        &["authenticationRequiredOnSetup"],
    ),
    card(
        "4000003800000446",
        "visa",
        "credit",
        Outcome::AuthUnlessSetUp,
        &["authenticationRequiredSetupForOffSession"],
    ),
];

/// The test card with this number (spaces ignored).
pub(crate) fn by_number(number: &str) -> Option<&'static TestCard> {
    CARDS.iter().find(|c| c.number == number)
}

/// The test card behind `pm_card_NAME` or `tok_NAME`.
pub(crate) fn by_alias(id: &str) -> Option<&'static TestCard> {
    let name = id
        .strip_prefix("pm_card_")
        .or_else(|| id.strip_prefix("tok_"))?;
    CARDS.iter().find(|c| c.aliases.contains(&name))
}

/// What a card known only by its last four digits does (fixtures), following the test
/// card with those digits; unknown cards succeed.
pub(crate) fn outcome_by_last4(last4: &str) -> Outcome {
    CARDS
        .iter()
        .find(|c| c.number.ends_with(last4))
        .map_or(Outcome::Success, |c| c.outcome)
}

/// The brand of a card number not in the test table, from its prefix.
pub(crate) fn brand_of(number: &str) -> &'static str {
    let two: u32 = number.get(..2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let four: u32 = number.get(..4).and_then(|s| s.parse().ok()).unwrap_or(0);
    match () {
        _ if number.starts_with('4') => "visa",
        _ if (51..=55).contains(&two) || (2221..=2720).contains(&four) => "mastercard",
        _ if two == 34 || two == 37 => "amex",
        _ if number.starts_with("6011") || two == 65 => "discover",
        _ if two == 35 => "jcb",
        _ if two == 36 || two == 30 || two == 38 => "diners",
        _ if two == 62 => "unionpay",
        _ => "unknown",
    }
}

/// Whether `number` passes the Luhn checksum.
pub(crate) fn luhn(number: &str) -> bool {
    if number.len() < 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_numbers_are_valid_and_aliases_resolve() {
        for c in CARDS {
            assert!(luhn(c.number), "{} fails luhn", c.number);
        }
        assert_eq!(by_alias("pm_card_visa").unwrap().number, "4242424242424242");
        assert_eq!(
            by_alias("tok_chargeDeclined").unwrap().outcome,
            Outcome::GenericDecline
        );
        assert!(by_alias("pm_card_nope").is_none());
        assert!(!luhn("4242424242424241"));
        assert_eq!(brand_of("5454545454545454"), "mastercard");
        assert_eq!(outcome_by_last4("9995"), Outcome::InsufficientFunds);
        let d = Outcome::ExpiredCard.charge_decline().unwrap();
        assert_eq!((d.code, d.decline_code), ("expired_card", "expired_card"));
        assert!(Outcome::AuthUnlessSetUp.needs_auth(false));
        assert!(!Outcome::AuthUnlessSetUp.needs_auth(true));
    }
}
