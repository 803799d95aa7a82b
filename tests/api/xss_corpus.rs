//! OWASP XSS filter-evasion cases (cheat sheet), as a note body would carry
//! them: event handlers, `javascript:`/`data:`/`vbscript:` URLs in several
//! encodings, SVG, MathML, nested and malformed tags, CSS expressions.
//! Shared by the API test (stored HTML) and the browser test (nothing runs).

pub const PAYLOADS: &[&str] = &[
    "<script>window.__xss=1</script>",
    "<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>",
    "<IMG SRC=\"javascript:window.__xss=1\">",
    "<IMG SRC=javascript:window.__xss=1>",
    "<IMG SRC=JaVaScRiPt:window.__xss=1>",
    "<IMG SRC=`javascript:window.__xss=1`>",
    "<a onmouseover=\"window.__xss=1\">xxs link</a>",
    "<IMG \"\"\"><SCRIPT>window.__xss=1</SCRIPT>\"\\>",
    "<IMG SRC=# onmouseover=\"window.__xss=1\">",
    "<IMG SRC=/ onerror=\"window.__xss=1\"></img>",
    "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058window.__xss=1\">",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;window.__xss=1\">click</a>",
    "<a href=\"&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;window.__xss=1\">click</a>",
    "<a href=\"jav\tascript:window.__xss=1\">tab</a>",
    "<a href=\"jav&#x09;ascript:window.__xss=1\">encoded tab</a>",
    "<a href=\"jav&#x0A;ascript:window.__xss=1\">newline</a>",
    "<a href=\" &#14;  javascript:window.__xss=1\">spaces</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a>",
    "<a href=\"vbscript:msgbox(1)\">vb</a>",
    "<a href=\"JAVASCRIPT:window.__xss=1\">upper</a>",
    "<SCRIPT/XSS SRC=\"http://xss.rocks/xss.js\"></SCRIPT>",
    "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=window.__xss=1>",
    "<<SCRIPT>window.__xss=1;//\\<</SCRIPT>",
    "<SCRIPT SRC=http://xss.rocks/xss.js?< B >",
    "<IMG SRC=\"`<javascript:window.__xss=1>`\"",
    "<iframe src=http://xss.rocks/scriptlet.html <",
    "</TITLE><SCRIPT>window.__xss=1</SCRIPT>",
    "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:window.__xss=1\">",
    "<BODY BACKGROUND=\"javascript:window.__xss=1\">",
    "<IMG DYNSRC=\"javascript:window.__xss=1\">",
    "<STYLE>li {list-style-image: url(\"javascript:window.__xss=1\");}</STYLE><UL><LI>XSS</br>",
    "<svg/onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    "<svg><a xlink:href=\"javascript:window.__xss=1\"><text x=20 y=20>XSS</text></a></svg>",
    "<math><maction actiontype=\"statusline#\" xlink:href=\"javascript:window.__xss=1\">CLICKME</maction></math>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<DIV STYLE=\"background-image: url(javascript:window.__xss=1)\">",
    "<DIV STYLE=\"width: expression(window.__xss=1);\">",
    "<p style=\"xss:expr/*XSS*/ession(window.__xss=1)\">styled</p>",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(window.__xss=1)\">",
    "<LINK REL=\"stylesheet\" HREF=\"javascript:window.__xss=1\">",
    "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:window.__xss=1\">",
    "<IFRAME SRC=\"javascript:window.__xss=1\"></IFRAME>",
    "<FRAMESET><FRAME SRC=\"javascript:window.__xss=1\"></FRAMESET>",
    "<TABLE BACKGROUND=\"javascript:window.__xss=1\">",
    "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"http://xss.rocks/scriptlet.html\"></OBJECT>",
    "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==\" type=\"image/svg+xml\" AllowScriptAccess=\"always\"></EMBED>",
    "<p><b onclick=\"window.__xss=1\">nested <i onfocus=\"window.__xss=1\" autofocus tabindex=1>deep</i></b></p>",
    "<a href=\"https://ok.example\" onclick=\"window.__xss=1\">ok link with handler</a>",
    "<span data-member=\"\" onmouseenter=\"window.__xss=1\">@x</span>",
    "<details open ontoggle=window.__xss=1>",
    "<video><source onerror=\"window.__xss=1\"></video>",
    "<form><button formaction=javascript:window.__xss=1>go</button></form>",
    "<base href=\"javascript:window.__xss=1//\">",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss=1>\">",
    "<a href=\"/relative/path\">relative</a>",
    "<a href=\"//evil.example/x\">protocol-relative</a>",
    "<p>caf&eacute; <!-- <script>window.__xss=1</script> --> end</p>",
];

/// What must not be in sanitized HTML, whatever went in. Text is escaped
/// by the sanitizer (a `<` in text is `&lt;`), so every `<…>` left is a real
/// tag: only the tags are looked at.
pub fn unsafe_parts(html: &str) -> Vec<String> {
    const TAGS: &[&str] = &[
        "p",
        "br",
        "h1",
        "h2",
        "h3",
        "h4",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "ul",
        "ol",
        "li",
        "a",
        "blockquote",
        "code",
        "pre",
        "span",
    ];
    let low = html.to_lowercase();
    let mut found = Vec::new();
    for tag in low.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if !TAGS.contains(&name.as_str()) {
            found.push(format!("tag <{tag}>"));
            continue;
        }
        // Attributes: only href (http, https, mailto), rel and data-member.
        let attrs = &tag[tag.find(' ').unwrap_or(tag.len())..];
        for attr in attrs.split('"').step_by(2) {
            for a in attr.split_whitespace() {
                let name = a.trim_end_matches('=');
                if !name.is_empty() && !matches!(name, "href" | "rel" | "data-member") {
                    found.push(format!("attribute {name} in <{tag}>"));
                }
            }
        }
        if let Some(href) = tag.split("href=\"").nth(1)
            && !(href.starts_with("http://")
                || href.starts_with("https://")
                || href.starts_with("mailto:"))
        {
            found.push(format!("link <{tag}>"));
        }
    }
    found
}
