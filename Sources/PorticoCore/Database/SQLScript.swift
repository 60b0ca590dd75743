/// Splits a SQL script into its statements.
///
/// postgres-nio speaks only PostgreSQL's extended query protocol, which takes one statement at a
/// time, so a migration file is split here and run statement by statement inside one transaction.
/// The splitter knows what can hide a `;`: single-quoted strings (with `''` and, in `E'…'`,
/// backslash escapes), double-quoted identifiers, `--` and nested `/* */` comments, and
/// dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`).
package enum SQLScript {
    package static func statements(in script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var hasCode = false
        var i = 0

        func append(_ range: Range<Int>) {
            current.append(contentsOf: chars[range])
        }

        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            switch c {
            case "-" where next == "-":
                var end = i
                while end < chars.count && chars[end] != "\n" { end += 1 }
                append(i..<end)
                i = end
            case "/" where next == "*":
                var depth = 0
                var end = i
                repeat {
                    if end + 1 < chars.count && chars[end] == "/" && chars[end + 1] == "*" {
                        depth += 1
                        end += 2
                    } else if end + 1 < chars.count && chars[end] == "*" && chars[end + 1] == "/" {
                        depth -= 1
                        end += 2
                    } else {
                        end += 1
                    }
                } while depth > 0 && end < chars.count
                append(i..<end)
                i = end
            case "'":
                let escapes = i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e") && (i < 2 || !isIdentifierPart(chars[i - 2]))
                var end = i + 1
                while end < chars.count {
                    if escapes && chars[end] == "\\" {
                        end += 2
                        continue
                    }
                    if chars[end] == "'" {
                        if end + 1 < chars.count && chars[end + 1] == "'" {
                            end += 2
                            continue
                        }
                        end += 1
                        break
                    }
                    end += 1
                }
                end = min(end, chars.count)
                append(i..<end)
                hasCode = true
                i = end
            case "\"":
                var end = i + 1
                while end < chars.count {
                    if chars[end] == "\"" {
                        if end + 1 < chars.count && chars[end + 1] == "\"" {
                            end += 2
                            continue
                        }
                        end += 1
                        break
                    }
                    end += 1
                }
                end = min(end, chars.count)
                append(i..<end)
                hasCode = true
                i = end
            case "$" where (i == 0 || !isIdentifierPart(chars[i - 1])):
                if let tagEnd = dollarTagEnd(chars, from: i) {
                    let tag = Array(chars[i...tagEnd])
                    var end = tagEnd + 1
                    while end < chars.count {
                        if chars[end] == "$", end + tag.count <= chars.count, Array(chars[end..<(end + tag.count)]) == tag {
                            end += tag.count
                            break
                        }
                        end += 1
                    }
                    end = min(end, chars.count)
                    append(i..<end)
                    hasCode = true
                    i = end
                } else {
                    current.append(c)
                    hasCode = true
                    i += 1
                }
            case ";":
                if hasCode { statements.append(String(current).trimmed) }
                current = String.UnicodeScalarView()
                hasCode = false
                i += 1
            default:
                if !c.properties.isWhitespace { hasCode = true }
                current.append(c)
                i += 1
            }
        }
        if hasCode { statements.append(String(current).trimmed) }
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag starting at `start`, or nil when the `$`
    /// there does not open one (a positional parameter such as `$1`).
    private static func dollarTagEnd(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        var end = start + 1
        while end < chars.count {
            let c = chars[end]
            if c == "$" { return end }
            if !isIdentifierPart(c) || (end == start + 1 && c.properties.numericType != nil) { return nil }
            end += 1
        }
        return nil
    }

    private static func isIdentifierPart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
    }
}

extension String {
    fileprivate var trimmed: String {
        var scalars = Substring(self)
        while let first = scalars.unicodeScalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.unicodeScalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
