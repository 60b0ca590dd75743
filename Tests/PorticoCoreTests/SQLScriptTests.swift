import Testing

@testable import PorticoCore

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolonsOutsideQuotesAndComments() throws {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT ';');
            /* block; /* nested; */ still comment */
            INSERT INTO a VALUES ('it''s; fine'), (E'back\\'slash;');
            CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
            CREATE FUNCTION g() RETURNS int AS $body$ SELECT 2; $body$ LANGUAGE sql;
            SELECT "odd;name" FROM a WHERE x = $1
            """
        let statements = SQLScript.statements(in: script)
        try #require(statements.count == 5, "\(statements)")
        #expect(statements[0].hasSuffix("CREATE TABLE a (x text DEFAULT ';')"))
        #expect(statements[1].contains("/* block; /* nested; */ still comment */"))
        #expect(statements[1].hasSuffix("(E'back\\'slash;')"))
        #expect(statements[2].hasPrefix("CREATE FUNCTION f()"))
        #expect(statements[3].contains("$body$ SELECT 2; $body$"))
        #expect(statements[4] == "SELECT \"odd;name\" FROM a WHERE x = $1")
    }

    @Test func dropsEmptyStatementsAndTrailingComments() {
        #expect(SQLScript.statements(in: ";;\n-- only a comment\n").isEmpty)
        #expect(SQLScript.statements(in: "SELECT 1;\n-- trailing\n") == ["SELECT 1"])
    }
}
