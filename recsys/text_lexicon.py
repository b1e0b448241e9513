"""Word lists behind the key-phrase rules of :mod:`recsys.text`.

General lists of function words, news-headline verbs and newsroom vocabulary, written from
general knowledge of the two languages (not from any particular text). Pure data.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------ English

# The tokenizer's stop words (recsys.text.tokenize): function words and reporting verbs. The
# trained text models were built on this list: change it and they must be trained again.
TOKEN_STOP = frozenset(
    """a about above after again against all almost also although am among an and another any are
    aren't around as at be became because become been before being below between both but by can
    cannot could couldn't did didn't do does doesn't doing don't down during each either else even
    ever every few for from further get gets got had hadn't has hasn't have haven't having he her
    here hers herself him himself his how however i if in into is isn't it it's its itself just
    least less like made make many may me might more most much must my myself neither no nor not
    now of off often on once one only or other others our ours ourselves out over own per perhaps
    rather really said same say says several she should shouldn't since so some still such than
    that that's the their theirs them themselves then there there's these they this those though
    through thus to too told under until up upon us very via was wasn't we well were weren't what
    when where whether which while who whom whose why will with within without would wouldn't yet
    you your yours yourself yourselves s t re ve ll d m mr mrs ms according including today
    yesterday tomorrow across along amid behind beyond despite inside near onto outside toward
    towards whoever whatever whichever two three four five six seven eight nine ten hundred
    thousand million billion""".split()
)

# Words that never begin, end or sit inside an English key phrase: the tokenizer's, and quantity words, ordinals, days and months, vague
# time words.
EN_STOP = TOKEN_STOP | frozenset(
    """abroad ago ahead april august away back billions consecutive day days december dozen dozens
    dr earlier early eighth eleven evening february fewer fifth fifty first forty fourth friday
    half hundreds january july june last late later latest march millions monday month months
    morning nationwide nearly next night ninth november october overnight quarter roughly
    saturday second september seventh sixth soon straight successive sunday tenth third thirty
    thousands thursday time times together tonight trillion tuesday twelve twenty twice versus
    vs wednesday week weekend weeks worldwide year years""".split()
)

# Words after which the next lexicon word reads as a noun ("the cut", "a ban", "its record").
EN_DETERMINERS = frozenset(
    "a an the this that these those its their his her our my your whose each every any no some".split()
)
# Words after which the next lexicon word reads as a verb ("to buy", "will ban", "has eased").
EN_VERB_CONTEXT = frozenset(
    """to will would can could may might must should shall not never did does do didn't doesn't
    don't has have had is are was were be been being won't can't cannot""".split()
)

# Lower-case words a key phrase may not end with: adjectives and adverbs that follow the noun
# in a headline ("rates steady", "shares higher").
EN_NO_END = frozenset(
    """steady unchanged stable flat higher lower high low strong stronger weak weaker better worse
    open closed ready likely unlikely possible available alive dead safe free clear sharply
    slightly further record-high best worst biggest largest highest lowest greatest smallest
    strongest weakest fastest longest oldest youngest deadliest costliest busiest hottest coldest
    warmest wettest driest richest poorest cheapest new old big small large major minor former
    current local national federal public private global foreign domestic economic political social
    military financial international""".split()
)

# Newsroom labels that open a title ("Breaking: ...", "Analysis | ...").
EN_TITLE_LABELS = frozenset(
    """breaking exclusive analysis explainer opinion live update updates watch factbox timeline
    editorial review interview podcast video photos explained""".split()
)

# Generic actors of news: alone they make a poor key phrase (their weight is halved).
EN_GENERIC = frozenset(
    """government police official president minister company firm expert authority resident
    people report study researcher scientist analyst lawmaker investor group official country
    state city leader spokesperson agency court""".split()
)

# Verbs of news headlines (base forms); their inflected forms are derived below.
_EN_VERB_BASES = """
accept accuse acquire add admit adopt advance affect agree aim allow announce appeal appear appoint approach approve arrive
arrest ask attack attempt avert avoid award back ban batter battle beat become begin blame block boost
break bring build buy call cancel cap capture celebrate charge claim clash clear climb close
collapse come comment commit complete concede condemn confirm consider continue convict cool
cost crash create criticise criticize curb cut damage debut decide declare decline defeat defend
delay deliver demand deny deploy describe destroy die dip discover dismiss dive dominate double drag drop
ease edge elect eliminate emerge end endorse enter escape evacuate exceed exit expand expect explain
explode expose extend face fail fall fear file find fine fire flee fly follow force freeze gain
get give go grant grip grow halt halve hand hang head hear help hike hint hit hold hope host hurt
hammer identify impose improve increase invest investigate issue join jump keep kill knock lash launch lead
leave lift limit link lose lower make mark meet miss mount move name need offer open order oust
outline overhaul overtake pass pause pay pick plan pledge plummet plunge post postpone pound praise
predict prepare present press probe promise propose protect protest prove provide publish pull
push quit raise rally reach receive recall reclaim record recover reduce refuse reject release
remain remove renew repeal replace report rescue resign resume retire return reveal revive rise
rule run sack save say scrap secure see seek seize sell send set settle shake shed shift shoot
show shrink shut sign sink slam slash slide slip slow slump soar spark spend split spread stall
start stay step stop storm strike struggle submit suffer surge suspend swing take talk target
stand tell test threaten tie top track trigger trim triple turn unveil uphold urge visit vote vow wait
want warn weigh welcome widen win withdraw worry worsen
"""

_EN_IRREGULAR = {
    "be": "was were been", "become": "became", "begin": "began begun", "break": "broke broken",
    "bring": "brought", "build": "built", "buy": "bought", "come": "came", "drag": "dragged",
    "fall": "fell fallen", "find": "found", "flee": "fled", "fly": "flew flown", "freeze": "froze frozen",
    "get": "got gotten", "give": "gave given", "go": "went gone goes", "grow": "grew grown", "hang": "hung",
    "hear": "heard", "hold": "held", "keep": "kept", "lead": "led", "leave": "left", "lose": "lost",
    "make": "made", "meet": "met", "overtake": "overtook overtaken", "pay": "paid", "rise": "rose risen",
    "run": "ran", "say": "said", "see": "saw seen", "seek": "sought", "sell": "sold", "send": "sent",
    "shake": "shook shaken", "shoot": "shot", "show": "shown", "shrink": "shrank shrunk", "sink": "sank sunk",
    "slide": "slid", "spend": "spent", "strike": "struck", "swing": "swung", "take": "took taken",
    "tell": "told", "uphold": "upheld", "win": "won", "withdraw": "withdrew withdrawn",
}

_VOWELS = "aeiou"


def _inflect(base: str) -> dict[str, str]:
    """Form -> kind ("base", "s", "ed", "ing") of a regular verb, with doubled-consonant variants."""
    forms = {base: "base"}
    if base.endswith(("s", "x", "z", "ch", "sh")) or base in ("go", "veto", "echo"):
        forms[base + "es"] = "s"
    elif base.endswith("y") and base[-2:-1] not in _VOWELS:
        forms[base[:-1] + "ies"] = "s"
    else:
        forms[base + "s"] = "s"
    if base.endswith("e"):
        forms[base + "d"] = "ed"
        forms[(base[:-1] if not base.endswith("ee") else base) + "ing"] = "ing"
    elif base.endswith("y") and base[-2:-1] not in _VOWELS:
        forms[base[:-1] + "ied"] = "ed"
        forms[base + "ing"] = "ing"
    else:
        forms[base + "ed"] = "ed"
        forms[base + "ing"] = "ing"
        if (len(base) >= 3 and base[-1] not in _VOWELS + "wxy" and base[-2] in _VOWELS
                and base[-3] not in _VOWELS):
            forms[base + base[-1] + "ed"] = "ed"
            forms[base + base[-1] + "ing"] = "ing"
    return forms


def _verb_forms() -> dict[str, str]:
    out: dict[str, str] = {}
    for base in _EN_VERB_BASES.split():
        for form, kind in _inflect(base).items():
            out.setdefault(form, kind)
        for form in _EN_IRREGULAR.get(base, "").split():
            out[form] = "s" if form.endswith("es") and form == base + "es" else "ed"
    return out


# inflected form -> "base" | "s" | "ed" | "ing"
EN_VERB_FORMS: dict[str, str] = _verb_forms()

# -s forms of headline verbs that news uses mostly as plural nouns ("climate talks", "rate
# cuts", "premium plans"): after a common noun they stay in the phrase.
EN_PLURAL_NOUNS = frozenset(
    """attacks bonds charges claims costs cuts deals fears funds gains hikes hopes jobs loans losses
    moves offers orders plans prices protests rates records reports results returns rules sales
    shares stakes stocks strikes talks tariffs taxes tests visits votes""".split()
)
# Plural nouns that do not end in -s.
EN_IRREGULAR_PLURALS = frozenset("people children police men women staff data media cattle feet teeth".split())

# Words ending in -ing / -ed / -ly that are nouns or adjectives, not verb forms or adverbs.
EN_NOT_VERB = frozenset(
    """accounting advertising banking beijing being bidding boarding boxing briefing broadcasting
    building buildings catering ceiling clothing computing consulting crossing cycling dealing
    dining earnings engineering evening farming feeling findings fishing funding gaming hearing
    heating holdings housing king landing lending listing listings manufacturing marketing meeting
    mining morning nothing nursing offering opening outing parking planning polling pricing
    printing programming publishing racing rating ratings recording recycling ring ruling sailing
    savings schooling screening setting shipping shooting skiing something spending spring
    streaming string swimming teaching testing thing things trading training voting warming
    wedding wellbeing wing wrestling anything everything
    bed breed creed embed feed greed hundred kindred naked need ragged red rugged sacred seed shed
    speed steed wicked weed
    ally anomaly assembly daily deadly early elderly family friendly hourly italy likely lily
    monopoly monthly quarterly rally reply supply weekly yearly costly""".split()
)

# ------------------------------------------------------------------------------------ Korean

# Nouns that never stand in a Korean key phrase (they break a run of nouns): time words,
# degree and position words, vague or dependent nouns, newsroom labels.
KO_STOP = frozenset(
    """것 수 등 때 중 및 이 그 저 경우 위하 오늘 내일 어제 모레 올해 내년 작년 지난해 내달 이달
    이번 다음 지난 이날 당일 당시 최근 현재 연내 연말 연초 새벽 오전 오후 밤 낮 주말 평일 올
    금주 주 연 월 일 년 당분간 향후 앞 뒤 위 아래 속 후 전 간 내 외 측 관련 대상 이상 이하 미만
    초과 안팎 가량 정도 약 총 각 최대 최소 최고 최저 역대 연속 첫날 처음 가운데 이후 이전 동안
    시간당 장중 평균 전체 일부 부분 대부분 모두 사이 만 여 쪽 곳곳 일대 이유 상황 가능성 방침
    예정 전망 상태 수준 기준 결과 과정 문제 내용 방안 사실 모습
    속보 단독 종합 상보 1보 2보 3보 포토 영상 사진 인터뷰 르포 기획 사설 칼럼 오피니언 팩트체크
    뉴스 기자 특파원 헤드라인 이슈 내년도 금년 금년도 전년 전년도 작년도 올봄 올여름 올가을 올겨울 달""".split()
)

# Generic actors of news: alone they make a poor key phrase (their weight is halved).
KO_GENERIC = frozenset(
    """정부 경찰 검찰 당국 국회 대통령 여야 여당 야당 정치권 회사 업계 기업 시장 전문가 관계자
    소비자 시민 주민 국민 사람 관계 당국자 측 지자체 법원 위원회 연구진 연구팀""".split()
)

# Determiners (MM) that never open a key phrase.
KO_DEMONSTRATIVES = frozenset("이 그 저 이런 그런 저런 어느 무슨 어떤 몇 모든 온갖 여러 한 두 세 네".split())

# Counters of time: a number with one of these ("3주", "14년", "2시간") says when or how
# long, not what, and breaks a phrase.
KO_TIME_COUNTERS = frozenset("년 월 일 주 시 분 초 시간 개월 주일 년간 일간 주간 달 해 차례 번 회".split())

# Verbal nouns that end Korean headlines as their predicate ("요금 인상", "국회 통과"): a key
# phrase names a thing, so it neither starts nor ends with one of these.
KO_PREDICATE_NOUNS = frozenset(
    """발표 추진 인상 인하 동결 돌파 확대 축소 유지 시행 도입 개최 합의 처리 통과 검거 체포 구속
    기소 예상 우려 공개 출시 확보 구축 복구 개막 폐막 시작 종료 증가 감소 급증 급감 상승 하락
    급등 급락 회복 경신 달성 기록 선정 임명 발탁 사퇴 사임 당선 진출 탈락 북상 상륙 발령 해제
    연장 유예 철회 착수 재개 중단 연기 취소 승인 거부 의결 가결 부결 강화 완화 편성 제출 검토
    결정 확정 마무리 예고 경고 촉구 요구 요청 재요청 반발 비판 강조 당부 견인 호조 부진 반등
    확산 발생 소환 발효 예보 선언 방문 참석 출범 개통 완공 준공 착공 돌입 마감 접수 모집 개편
    신설 폐지 허용 금지 타결 결렬 체결 서명 주장 지적 제기 전달 누적""".split()
)
