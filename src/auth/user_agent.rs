//! A browser's and system's name from a User-Agent header, for the sessions
//! list ("Firefox 133 on macOS"). Only the few families people actually use
//! are told apart; the raw header travels beside it for everything else.

/// (browser with major version, operating system).
pub fn describe(ua: &str) -> (String, String) {
    (browser(ua), os(ua))
}

fn major(ua: &str, token: &str) -> Option<String> {
    let at = ua.find(token)? + token.len();
    let v: String = ua[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    (!v.is_empty()).then_some(v)
}

fn named(name: &str, ua: &str, token: &str) -> String {
    match major(ua, token) {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    }
}

fn browser(ua: &str) -> String {
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    if ua.contains("Edg/") {
        named("Edge", ua, "Edg/")
    } else if ua.contains("OPR/") {
        named("Opera", ua, "OPR/")
    } else if ua.contains("Firefox/") {
        named("Firefox", ua, "Firefox/")
    } else if ua.contains("FxiOS/") {
        named("Firefox", ua, "FxiOS/")
    } else if ua.contains("CriOS/") {
        named("Chrome", ua, "CriOS/")
    } else if ua.contains("HeadlessChrome/") {
        named("Headless Chrome", ua, "HeadlessChrome/")
    } else if ua.contains("Chrome/") {
        named("Chrome", ua, "Chrome/")
    } else if ua.contains("Safari/") && ua.contains("Version/") {
        named("Safari", ua, "Version/")
    } else if ua.starts_with("curl/") {
        named("curl", ua, "curl/")
    } else {
        "Unknown browser".to_string()
    }
}

fn os(ua: &str) -> String {
    let found = if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("CrOS") {
        "ChromeOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        "Unknown system"
    };
    found.to_string()
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_are_named() {
        let cases = [
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0",
                ("Firefox 133", "macOS"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                ("Edge 131", "Windows"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                ("Chrome 131", "Linux"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                ("Safari 18", "iOS"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                ("Chrome 131", "Android"),
            ),
            ("curl/8.5.0", ("curl 8", "Unknown system")),
            ("", ("Unknown browser", "Unknown system")),
        ];
        for (ua, (b, o)) in cases {
            assert_eq!(describe(ua), (b.to_string(), o.to_string()), "{ua}");
        }
    }
}
