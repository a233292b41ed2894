"""Where roost and HTCondor's own library (classad2, HTCondor 25.14.1) part ways on purpose,
or where classad2 cannot be asked.

Roost's bugs are not listed here: they are fixed.  What is listed is either a choice roost
makes (and says why), or a quirk of classad2 or its Python bindings.  The differential
tests name an entry by its id for each case it covers; such a case still checks roost's
own value, and only the comparison with classad2 is left out.
"""

KNOWN_DIFFERENCES = {
    # -- classad2 gives up, crashes or hides the value; roost answers ---------------------
    "oracle-raises-no-root": (
        "`.x` with no ad: classad2 fails the evaluation outright (no root ad) and raises; "
        "roost gives Undefined, as for any name that leads nowhere"
    ),
    "oracle-raises-depth": (
        "past 400 nested attribute references classad2 fails the evaluation and raises; "
        "roost gives Error, its value for too deep"
    ),
    "depth-literal": (
        "a reference to a literal is answered on roost's fast path and not counted: a "
        "chain of exactly 400 references ending in a literal has its value in roost"
    ),
    "oracle-crash-subscript": (
        "classad2 starts a new evaluation for each ad[\"name\"], so [a = self[\"a\"]].a "
        "recurses until it segfaults; roost sees the cycle (Undefined); not run in classad2"
    ),
    "refs-give-up": (
        "externalRefs/internalRefs/flatten raise in classad2 on a reference cycle or a "
        "selection from a value that is not an ad; roost leaves that part out"
    ),
    "refs-free-literal": (
        "for an expression that is not in an ad, classad2 looks up an ad literal's names "
        "with no enclosing ad ([k = a].k refers to a); roost encloses it in the ad, as it "
        "is for an attribute's expression"
    ),
    # -- roost's choices ------------------------------------------------------------------
    "eager-lists": (
        "roost evaluates a list's elements with the list; classad2 keeps them as "
        "expressions, so string() or strcat() of a list shows values in roost"
    ),
    "one-list-type": (
        "HTCondor keeps lists made by functions (split...) a type apart from written lists, "
        "so split(\"a\") =?= {\"a\"} is false there; roost has one list type: Error"
    ),
    "unicode-text": (
        "roost strings are Unicode text, HTCondor's are bytes: non-ASCII prints as itself "
        "(classad2: octal escapes of its UTF-8 bytes), and \\200-\\377 are U+0080-U+00FF"
    ),
    "folded-minus": (
        "roost reads `- 5` as the literal -5 (one tree per value, so printing and reading "
        "back gives the same tree); classad2 keeps a minus operator and prints ` -5`"
    ),
    "exact-reals": (
        "a real that %1.15E would not give back exactly prints with one more digit in "
        "roost, so that reading the text back gives the same real"
    ),
    "unreadable-print": (
        "classad2 prints x.'y z' as x.y z, 1 .a as 1.a and year 220 as 220-01-01, which "
        "do not read back as written; roost keeps quotes, a space, four digits of year"
    ),
    "match-ad-print": (
        "in a match, toplevel is HTCondor's match ad, whose LEFT and RIGHT roost supplies "
        "without holding them: printed, roost's match ad leaves them out"
    ),
    "strict-files": (
        "classad2 ignores what follows the first ad or value of a line and stops at a bad "
        "line; roost refuses the whole text and says where"
    ),
    "json-lists": (
        "roost also reads a JSON list of ads (condor_q -json writes one); classad2 reads "
        "only objects one after another"
    ),
    "empty-ads": "classad2's parseAds yields nothing for an empty ad; roost yields the ad",
    "separators": (
        "roost's old-syntax reader takes a line of dashes for a separator between ads, as "
        "condor_q -long writes them; classad2 stops reading there"
    ),
}

