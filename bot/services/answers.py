"""Answering questions: which regulation, article or measure a staff member means — or none.

The engine keeps an in-memory index built once at start-up (`AnswerEngine.load`) and
kept current afterwards (`refresh` picks up rows changed since the last look, without
rebuilding everything). Asking is synchronous, pure CPU and takes no database session.

How a question is answered:
0. The question is normalised: English words and phrases read as Chinese (annual leave →
   年休假), a two-character pinyin slip that the segmenter would cut wrongly put right before
   segmenting (报消会不会 → 报销), a verb and object said apart rejoined (请两天假 → 请假两天).
1. A measure code in any spelling (ZG2025004, zg-2025-4, ＺＧ２０２５００４) answers at once.
2. People, units, 我的/逾期/状态 words make it a *list* question unless the rest of the
   question clearly names one measure.
3. Otherwise BM25 over bigrams, words, pinyin and synonyms recalls candidates of every
   kind; they are re-ranked by how much of the question's meaning each one covers
   (IDF-weighted content words, matched exactly, by pinyin, by synonym or by bigrams). A sum
   of money (花6万块) also finds, and is matched by, the rules whose bounds take it in (5万元以上).
   Telling single characters that no content word holds (签 of 谁来签) break ties between articles.
4. The coverage of the best candidate decides: answer, offer suggestions, or admit
   there is no answer. An article number (第五条) picks the article of the regulation
   the rest of the question names.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import yaml
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import SessionFactory, transaction
from bot.errors import InvalidInput, NotFound
from bot.models import Alias, Article, Cadre, Measure, MeasureStatus, Miss, Regulation, utcnow
from bot.services.measures import get_measure, sign_offs
from bot.services.retrieval import Analyzer, DocTerms, Segment, bm25_idf, homophones, pinyin_of, top_k
from bot.services.text import (
    chinese_to_int,
    clean_display,
    code_candidates,
    code_hash,
    code_key,
    code_variant_matches,
    compact,
    find_article_no,
    month_end,
    normalize,
)

log = logging.getLogger(__name__)

Kind = Literal["regulation", "article", "measure"]
KINDS: tuple[Kind, ...] = ("regulation", "article", "measure")

MAX_QUESTION_CHARS = 300  # a question longer than this is a pasted document: judge its start
MAX_HITS = 5

# Coverage thresholds, calibrated on two labelled question sets (ours and a held-out bureau's).
# 2026-12-06: six right answers and no off-topic question of either set score from 0.38 to
# 0.40; one held-out off-topic question scores 0.37, so 0.38 is as low as it can go. Whether a
# ranked question's best candidate answers is since decided by ANSWER_MODEL, not by ANSWER_AT.
#: An alias this long (characters, after normalising) that asks something, or twice as long, is a
#: whole question (taught from /misses): matched as a whole. A shorter one, or one that names
#: (义务教育两免一补政策), joins the words of its item.
PHRASING_MIN = 8
#: How alike (rapidfuzz ratio) a question and a taught question must be to count as the same.
PHRASING_SAME = 90.0
ANSWER_AT = 0.38  # a list's one measure, a named regulation: covers at least this much of the question
SUGGEST_AT = 0.25  # below this nothing is relevant: no answer and no suggestions
MEASURE_PRIOR = 0.1  # a question with nothing pointing at measures is more likely about the rules
PARTIAL = 0.5  # credit for a long word sharing only some bigrams with a document
COMPOUND = 0.3  # base credit for a compound word with only some parts in a synonym group
LONE_SPECIFICITY = 8.0  # 签 批 酒 车 假 are telling; 来 要 去 人 are not
ABBREVIATION = 0.7  # credit for 医美 in a text saying 医疗美容
STORY_AT = 7  # words in a question long enough to tell a story around what it asks
STORY_WEIGHT = 0.5  # weight of a story word there that no document has (孩子生病住院 before 能换班吗)
THESAURUS = 0.5  # credit for a general synonym (房子 ~ 房屋) of a word no document has
THESAURUS_RECALL = 0.5  # query weight of those synonyms' terms in recall
STRONG_MATCH = 12.0  # matched weight that makes a long question answerable however chatty it is
POSITION_GAP = 4  # characters between the words describing a cadre's position (分管财务的副局长: 的)

class AnswerFeature(IntEnum):
    """What the answer-or-offer decision weighs of the best candidate (see `ANSWER_MODEL`); the
    candidate's ranking signals (`Signal`) follow these."""

    CONFIDENCE = 0  # how much of the question's meaning the candidate accounts for
    MATCHED = 1  # how much meaning that is, in weight (capped): a long question matched a lot is clear
    UNSEEN = 2  # share of the question's weight in words no document has: the story, or another topic
    ARTICLE = 3  # the candidate is an article
    MEASURE = 4  # the candidate is a measure


MATCHED_CAP = 20.0

#: The answer-or-offer decision: the best candidate answers when this logistic model of its
#: features (`AnswerFeature`, then its `Signal`s) is positive, and it covers at least SUGGEST_AT;
#: otherwise the bot offers the candidates. Fitted by `python -m benchmarks.answering`, which
#: validates it one bureau left out at a time; bias first. It replaced a bare threshold on
#: CONFIDENCE (0.38), which could not tell 县里的师德评价结果什么时候报市局 (0.32, all of what
#: it matched in one article) from 百色芒果几月份上市 (0.47, an off-topic question offered now).
ANSWER_MODEL: tuple[float, ...] = (
    -3.666,  # bias
    4.233, 0.3611, -0.3347, -1.962, -0.8293,  # AnswerFeature
    11.28, 0, 2.806, 2.133, -0.126, 2.889, 5.328, -0.04089, 0.5033, 0.2825,  # Signal
)


class Signal(IntEnum):
    """What a candidate's ranking weighs, in the order it is summed (see `RANK_WEIGHTS`)."""

    KIND_HINT = 0  # how the question is asked: progress words → a measure, rule words → an article
    LATE = 1  # asked 逾期了吗: the measure is overdue
    CONFIDENCE = 2  # how much of the question the document accounts for
    TITLE = 3  # a regulation: how much of the question its title alone accounts for
    BM25 = 4  # an article or measure: its BM25 score relative to the best of its kind
    LONE = 5  # share of the question's telling single characters (签 of 谁来签) the text has
    CONTEXT = 6  # an article: how much of the question its regulation accounts for
    OWN = 7  # an article: how much of the question its own text accounts for
    EVIDENCE = 8  # an article: how many distinct cues of the asked-for answer (…日内, …元) it has
    PREAMBLE = 9  # an article stating the regulation's purpose and basis (为…，制定本办法)


#: Weight of each signal in a candidate's rank. Confidence dominates; the rest break near-ties.
RANK_WEIGHTS: tuple[float, ...] = (1.0, 0.05, 1.0, 0.25, 0.25, 0.13, 0.15, 0.16, 0.09, -0.09)

# Phrases that carry no topic: question words, politeness, filler, pronouns.
STOP_WORDS = frozenset("""
请问 请教 想问一下 想问问 想问 问一下 问问 咨询一下 咨询 了解一下 打听一下 麻烦 帮我 帮忙 查一下 查查 查询 看看 看一下
告诉我 你好 您好 哈喽 谢谢 多谢 一下 什么 啥 怎么样 怎么办 怎么 怎样 咋办 咋整 咋 如何 是否 是不是 有没有 有无 能不能
能否 可不可以 可以 多少 多久 多长时间 哪些 哪个 哪里 哪儿 哪 谁 吗 呢 吧 啊 呀 嘛 哦 哈 的 了 着 过 和 与 及 或 我们
我 你们 你 您 他们 他 她 它 这个 那个 这些 那些 这 那 就是 还是 还有 现在 目前 到底 究竟 一直 已经 都 也 还 又 再 在 是
有 要 会 能 得 地 对 就 把 被 给 让 说 讲 具体 相关 方面 一些 一点 情况 事情 事儿 那边 这边 里面 内容 东西 部分 这块
那块 关于 有关 呗 来着 么 一般 通常 平时 大概 大约 应该 需要 必须 得 请 想 知道 问 下 上 个 些 点 吗 嗯 哎 唉 那么
这么 这样 那样 然后 所以 因为 但是 不过 如果 的话 时候 时 一个 一次 有点 好像 可能 其实 反正 比如 譬如 等等 之类
干嘛 干啥 拿来 咋弄 咋搞 怎么弄 怎么搞 块钱 元钱 局里 咱们 咱 别人 人家 不了 是从 那天 这天 才能
那条 这条 那项 这项 那件 这件 一共 总共 一共有 好几年 好几天 好几个月 好几次 好多年 好多天 好久 整个 规矩
上周 下周 这周 本周 上星期 下星期 上个月 下个月 这个月 昨天 前天 前几天 刚才 今早 昨晚 今晚 明早 早上
""".split())
# Multi-character filler removed before segmentation (single characters are dropped word by word,
# never by substring: 会 must not be cut out of 会议).
_STOP_PHRASES = sorted((w for w in STOP_WORDS if len(w) >= 2), key=len, reverse=True)
_STOP_RE = re.compile("|".join(map(re.escape, _STOP_PHRASES)))
# Questions about how a measure is going, versus what a rule says.
_STATUS_CUES = re.compile(
    r"进展|进度|到哪一步|哪一步|到什么程度|什么程度|完成了|完成没|解决了|解决没|落实了|落实没|办得怎么样|怎么样了|"
    r"办了没|发了没|发了吗|发放了|还完|还清|什么时候完成|什么时候能完成|谁负责|谁在管|谁在抓|谁牵头|销号了|搞定|弄完|"
    r"推进得|做到哪|干得|整改得|(做|办|改|确定|修|建)(完|好)了?(没|吗)|整改情况|整改到哪|(那|这)(条|项|个)整改|"
    r"(期限|时限)是(哪天|什么时候|几号)|(什么时候|哪天|几号)到期|销号(了)?(没|吗)|销了(号)?(没|吗)|"
    r"还差(几|多少)|(补|改|整改)(齐|完)了?(没|吗)|处理(完|好)了?(没|吗)|(什么|啥)时候(要|能)?完成|"
    # 危房改造逾期了吗: whether a measure is late, not the rules on lateness (逾期不归).
    r"(逾期|超期|拖期)了?(吗|没有?)$|"
    # 差旅费住宿超标那条，多报的钱追回来没: a measure pointed at (那条), then whether it is done.
    r"(那|这)(条|项|个).{0,12}(了没|没有|了吗|没)$"
)
# The same, for the ranking: the late words of such a question are the measure's state to show.
_LATE_ASKED = re.compile(r"(逾期|超期|拖期)了?(吗|没有?)$")
_MEASURE_WORDS = re.compile(r"整改|问题|措施|落实|情况|台账|任务|项目|工程|编号")
_RULE_CUES = re.compile(
    r"能不能|可不可以|可以吗|能否|允许|允不允许|要不要|需不需要|是否需要|需要.{0,6}吗|谁批|谁审批|谁签|要谁|找谁|"
    r"多少钱|标准|规定|怎么报|流程|程序|手续|多久|几天内|多少天|几次|最多|最少|至少|不超过|违规|违反|会怎么样|"
    r"怎么处理|处分|算不算|行不行|可不可|该怎么|要怎么|怎么办|咋办|咋整|什么材料|哪些材料|哪几样|要交什么|交哪"
)

# A message that is a number and nothing else (a unit word at most): 1, 30号, 12个.
_BARE_NUMBER = re.compile(r"\s*[0-9]+\s*(号|日|天|个|项|条|次|元|块)?\s*")
# Words that turn a question into a request for a list of measures.
_LIST_CUES = re.compile(
    r"哪些|有哪些|哪几|几项|几个|几条|多少项|多少个|多少条|清单|列表|列一下|列出|都有|所有|全部|还有|还剩|剩下|"
    r"负责的|分管的|主管的|牵头的|名下|手上|手头|在管|管的|的整改|的措施|的任务|整改任务|整改措施|任务|统计|汇总|一览|"
    # 黄立新那边有什么整改要做: "what measures" asks for them all.
    r"(什么|啥)(整改|措施|事项)|"
    # 张伟这周干了啥: what a person is working on is their measures (a filter must name whose).
    r"(干|做|忙)(了|着)些?(什么|啥)|忙些?(什么|啥)|在(干|做|忙)"
)
# The campaign's figures rather than a list or a rule: 整改完成率是多少, 哪个单位逾期最多, 公示情况.
_UNIT_NOUN = r"(?:单位|科室|部门|县市区|县区|县|区|地方|科|处|股)"
_REPORT_ASK = re.compile(
    r"完成率|完成比例|销号率|完成进度|(总体|整体|全局|全市)的?(整改)?(进度|情况|完成情况|进展)|整改进度|"
    r"完成了?(多少|几)(项|个|条)?|一共完成|统计|汇总|公示(情况)?|排名|排行|"
    # 哪个科室逾期最多, not 哪个科室请假最多 (figures we do not keep).
    rf"(哪个|哪些|哪家|什么){_UNIT_NOUN}(的|整改|完成率|销号率|完成得?|进度|逾期|超期|拖期|延误|事项|项目|数量?){{0,4}}"
    r"最(多|少|慢|快|差|好|高|低)|"
    # 逾期最多的科室, 完成率最低的是哪个单位: the unit asked for after the ranking.
    rf"最(多|少|慢|快|差|好|高|低)的(是)?(哪个|哪些|哪家)?{_UNIT_NOUN}"
)
# What a ranking question says besides the figure it ranks by (最低的, 是哪个科室, 各单位).
_RANKING_WORDS = re.compile(
    rf"最(?:多|少|慢|快|差|好|高|低|落后)的?(?:是)?(?:哪个|哪些|哪家|什么)?{_UNIT_NOUN}?|倒数(?:第一)?|"
    rf"各{_UNIT_NOUN}|(?:是)?(?:哪个|哪些|哪家|什么){_UNIT_NOUN}"
)
_MEASURE_GENERIC = re.compile(r"整改措施|整改|措施|事项|进展|进度|情况|清单|一览|台账")
_MEASURE_NOUNS = re.compile(r"整改措施|整改|措施|事项")
# 我的逾期整改: a filter and then only the word for measures is a list, though no list cue says so.
_MEASURES_NOUN_ENDING = re.compile(r"(整改|整改措施|措施|事项)(呢|吧|啊)?$")
# The asker's as a supervising leader: 我分管的, and what awaits their sign-off (待我审核的).
_LEADER_CUES = re.compile(r"分管|主管|领导的|管的|管着")
_LED_BY_ME = re.compile(r"我分管|我主管|本人分管")
_AWAITING_ME = re.compile(r"(待|等|需要|要)我(来)?(审核|销号|审批|验收|签字)")
_MINE = re.compile(r"我的|我负责|我名下|我手上|我手头|给我的|分给我|我还有|我有|我这里|我这边的|本人的|我牵头")
_OVERDUE = re.compile(
    r"逾期|超期|过期|超时|拖期|延误|误期|过了期限|超过期限|过了时限|到期没|到期未|没按时|未按时|没有按时|晚了"
)
_STATUS_WORDS: list[tuple[re.Pattern[str], frozenset[MeasureStatus]]] = [
    (re.compile(r"未开始|没开始|还没动|没启动|未启动"), frozenset({MeasureStatus.NOT_STARTED})),
    (re.compile(r"(正在|还在|仍在)?进行中|在办|正在整改|正在推进|推进中|整改中|正在(做|办|弄|搞)|还在(做|办|弄|搞|推进)"),
     frozenset({MeasureStatus.IN_PROGRESS})),
    (re.compile(r"(做完|完成|办完)了?(但|可|却)?(还)?(没|未)(有)?销号|完成未销号|待销号|已完成|已经完成|已经做完|已办结|完成了的|做完的|待审核|待验收"),
     frozenset({MeasureStatus.DONE})),
    (re.compile(r"已销号|销号了的|已经销号"), frozenset({MeasureStatus.CLOSED})),
    (re.compile(r"没完成|未完成|没有完成|没(做|干|弄|搞|整改|改)完|未整改完|未办结|没办完|没落实|未落实"),
     frozenset({MeasureStatus.NOT_STARTED, MeasureStatus.IN_PROGRESS})),
]
_TITLES = ("副局长", "局长", "副科长", "科长", "副主任", "主任", "书记", "组长", "处长", "老师", "同志", "局", "科",
           "主席")
# 个 only between a verb and its object (请个假, 开个会), not in a count (下个月, 每个人).
_SPLIT_WORD = re.compile(r"([\u4e00-\u9fff])(了|过|不了|不上|得了|得上|个(?![月人星礼]))([\u4e00-\u9fff])")
# 请事假: a verb-object word of our documents (请假) with a kind of its object (事假) inside.
_HAN_TRIPLE = re.compile(r"(?=([\u4e00-\u9fff])([\u4e00-\u9fff])([\u4e00-\u9fff]))")
_SPLIT_BY_COUNT = re.compile(
    r"([\u4e00-\u9fff])((?:[0-9]+|[一两几半])个?(?:天|日|周|个月|月|次|小时|晚|夜|礼拜|星期))([\u4e00-\u9fff])")
_COUNT_CHARS = frozenset("0123456789一两几半")
# A yes-no question said as "X not X" (要不要, 管不管, 需不需要): X is all it says about the topic.
_A_NOT_A = re.compile(r"([\u4e00-\u9fff])不\1")
_UNIT_ABBREVIATION = re.compile(r"[\u4e00-\u9fff]{1,4}?(?:科|室|局|中心|所|队|院|站|处|办|委)")
_UNIT_KIND = {"办": "办公室", "委": "委员会"}  # 应急办 is an 办公室, 卫健委 a 委员会
_UNIT_SUFFIXES = ("教育局", "委员会", "局", "办公室", "中心")
_PLACE_SUFFIXES = ("区", "县", "市", "镇", "乡")
# What kind of answer a question wants, and what a document that gives it looks like. A question
# asking 几次 prefers an article stating a frequency; 谁批 one naming an approver. A group in a
# question pattern is what the cue surrounds (能|办升学宴|吗): content, kept as such.
_N = "[0-9零〇一二两三四五六七八九十百千]+"
# A unit as the subject of a sentence that acts (办公室统一…, 人事科建立…): it is who does it.
_UNIT_ACTS = (r"(^|[。；])[\u4e00-\u9fff]{1,8}(科|处|办公室|中心|党组|小组|委员会)"
              r"(为|统一|应当|每|建立|组织|牵头|制定|会同|提出|汇总)")
# …由办公室统一管理: who manages it.
_MANAGED_BY = r"由[^，。；]{1,12}(统一)?管理"
_ANSWER_TYPES: list[tuple[re.Pattern[str], re.Pattern[str]]] = [
    (re.compile(r"几次|多少次|多久(.{0,6})一次|多长时间(.{0,6})一次|多久开|多久搞|多久办|频次|频率|"
                r"[一每](?:年|个月|月|季度|周|学期|学年)([^，。]{0,4})(?:几|多少)"),
     re.compile(rf"每(年|半年|季度|季|月|周|学期|学年|天|日)|{_N}次|定期")),
    (re.compile(r"几天|多少天|多久|多长时间|几个工作日|多少个工作日|什么时候|啥时候|啥时|何时|哪天|几号|期限|时限|截止|几月"),
     re.compile(rf"{_N}个?(工作日|日|天|小时|周|个月|月|年)|之前|以前|以内|届满|{_N}号|(节|活动|会议|假期)前|季节")),
    (re.compile(r"多少钱|多少元|多少块|花多少|报多少|补多少|发多少|标准|限额|上限|最高|最多能"),
     re.compile(rf"{_N}(元|万元|块)|标准|不超过|限额")),
    (re.compile(r"谁批|谁审批|谁签|谁审核|谁来|谁定|找谁|要谁|哪个领导|哪位领导|谁建"),
     re.compile(rf"审批|批准|审核|签批|签发|负责|同意|决定|确定|牵头|主管|归口|{_MANAGED_BY}|{_UNIT_ACTS}")),
    # Who is in charge (谁管, 归哪个科): a unit or post that 负责/主管/归口/牵头, more than an approval step.
    (re.compile(r"谁负责|谁管|谁来管|归谁|归哪|哪个部门|哪个科室|哪个科|谁牵头|谁在(弄|搞|做|管|抓)|谁来(弄|搞|做)"),
     re.compile(rf"负责|主管|归口|牵头|{_MANAGED_BY}|{_UNIT_ACTS}")),
    (re.compile(r"会怎么样|会怎样|怎么处理|如何处理|什么后果|后果|处分|处罚|追责|会被|什么影响|有影响吗|怎么罚|咋罚|罚不罚"),
     re.compile(r"处分|处理|追究|问责|通报|取消|扣|降|调离|解聘|批评|约谈|不得评|不予")),
    (re.compile(r"什么材料|哪些材料|交什么|提交什么|带什么|准备什么|什么手续|哪些手续|什么证明|要交|交哪|哪几样"),
     re.compile(r"材料|提交|附|证明|填写|申请表|手续|报送|介绍信|证件|凭")),
    (re.compile(r"能不能|可不可以|可以吗|允许|允不允许|能否|行不行|是否可以|能(.{1,8})吗|可以(.{1,8})吗"),
     re.compile(r"不得|禁止|严禁|可以|允许|应当|须|必须|一律|原则上|方可|只能|不准|不宜|不再|不予|不能|不可")),
    # Whether a rule covers a case (水上执法也按这个规范来吗, 罚站算不算体罚): its scope or definition.
    (re.compile(r"也按|也照|也适用|适用吗|适不适用|适用不适用|包不包括|包括.{0,8}吗|算不算|属不属于|属于.{0,8}吗|"
                r"包括哪|包括什么|包含哪|哪几块|哪几种|分哪几|分为哪"),
     re.compile(r"适用|参照|包括|所称|是指|属于|视为")),
    # A time of day (几点上班): not 几点要求/几点意见, where 几点 counts points (before the
    # requirement cue below cuts 要求 out of 几点要求).
    (re.compile(r"几点钟?(?!要求|意见|建议|注意|内容|规定|做法|体会)|几时(?!候)"),
     re.compile(r"(上午|下午|早上|晚上|中午|凌晨)\s?[0-9]{1,2}|[0-9]{1,2}(点|时(?!间|限|候))")),
    # What is required, asked at the end (学时要求, 有什么要求): the article setting a bar.
    (re.compile(r"要求(是什么|是啥|有哪些|有什么|吗)?$|最少要|至少要|起码要"),
     re.compile(rf"不少于|不低于|至少|不得少于|累计{_N}|{_N}(学时|课时|小时|次|人)以上")),
    # Who pays (来访的人住酒店的钱谁出, 罚款算谁的): the article saying who bears the cost.
    (re.compile(r"谁出钱|谁付钱|谁出|谁付|谁掏|谁承担|谁负担|谁买单|算谁的|自己出钱?|自己掏钱?|自己付钱?|自己承担"),
     re.compile(r"自理|自行(负担|承担|支付)|个人(负担|承担|支付)|由[^，。；]{1,10}(承担|负担|支付)|列支")),
]
ANSWER_TYPE_WEIGHT = 1.5
_MODAL_CHARS = frozenset("要能会想得可该应去来再还以在对把被给向从跟和与是都就也又")
# Small talk and questions about the bot itself: never answered from the documents.
_CHITCHAT = re.compile(
    r"((你好|您好|在吗|在不在|哈喽|hello|hi|hey|嗨|早上好|上午好|中午好|下午好|晚上好|晚安|早安|谢谢|多谢|感谢|谢了|"
    r"好的|好|嗯|哦|哈哈|呵呵|ok|okay|再见|拜拜|辛苦了|收到|明白|知道了|测试|test|"
    r"行|可以|同意|没问题|是的|对的|对|了解|懂了|好嘞|好滴|"
    # Greetings phrased as questions: 吃饭了没 is "hello", not a question about meals.
    r"吃过?饭?了?(吗|没有?)|忙(吗|不忙)|在忙(吗|没)?|最近(还)?好(吗|不好)?|最近怎么样|睡了(吗|没)|"
    r"早|晚上好)(啊|呀|哈|哦|了|你|您|呢)*)+"
)
# The weather, asked as such (明天钦州天气怎么样); not 恶劣天气值班怎么安排.
_WHEN = r"(今天|明天|后天|周末|这几天|最近|今晚|明早)"
_WEATHER_NOUN = r"[\u4e00-\u9fff]{0,4}的?(天气|气温)(预报)?"
_WEATHER = re.compile(
    rf"{_WHEN}?{_WEATHER_NOUN}(怎么样|如何|好吗|好不好|咋样|热不热|冷不冷|会下雨吗|下不下雨)(啊|呀|呢)?"
    rf"|{_WHEN}{_WEATHER_NOUN}(啊|呀|呢)?"
)
# Small talk about lunch and days out (中午食堂吃什么, 周末带娃去哪玩比较好) and the national holiday
# calendar (明年春节放几天假): no rule of ours says; 接待吃什么标准 or 国庆出去玩要报备吗 still search.
_WHEN_OF_DAY = r"(今天|明天|中午|晚上|早上|今晚|明早)"
_SMALL_TALK = re.compile(
    rf"{_WHEN_OF_DAY}?(局里?|单位|机关|咱们|我们)?的?(食堂|饭堂)?{_WHEN_OF_DAY}{{0,2}}"
    r"(吃什么|吃啥|有什么菜|有啥菜|什么菜|饭菜怎么样|伙食怎么样)(好|呢|啊|呀)?"
    r"|[\u4e00-\u9fff]{0,8}(去哪(里|儿)?玩|哪(里|儿)好玩|去哪(里|儿)?旅游|有什么好玩的?)(比较好|好|呢|啊|呀)?"
    r"|(今年|明年)?(的)?(春节|国庆节?|五一|劳动节|元旦|清明节?|端午节?|中秋节?)(放|休)(几天|多少天|多久)(假)?(啊|呀|呢)?"
)
# An errand for a personal assistant (帮我订一张去南宁的动车票, 帮我写一份年终总结), not a
# question on our rules: 帮我查/帮我看 are questions and stay out.
_ERRAND = re.compile(
    r"(请|麻烦)?(你)?(帮我|给我|替我|帮忙)(们)?(订|预订|预定|买|抢|写|起草|拟|撰写|翻译|润色|改写|打印|生成|画)")
_ABOUT_BOT = re.compile(r"你是谁|你叫什么|你是什么|你是机器人|你是人|谁开发|谁做的|你会什么|你能做什么|你几岁")
_PASTIME = re.compile(r"讲个笑话|说个笑话|陪我聊|聊聊天|唱首歌|写首诗|写一首")
# Within small talk (_CHITCHAT): thanks, and a greeting or a test wanting a sign of life; the
# rest (好的, 收到, 再见) is an acknowledgement.
_THANKS = re.compile(r"谢|辛苦")
_HELLO = re.compile(
    r"你好|您好|在吗|在不在|哈喽|hello|hi|hey|嗨|早|上午好|中午好|下午好|晚上好|吃|忙|最近|睡了|测试|test")
_LETTERS = re.compile(r"[A-Z]*")
# A person's measures asked for by name (王建军负责的整改有哪些), and the common surnames that
# tell a name from a topic (港南区负责的 is a unit, 财务科 neither).
_SOMEONES_MEASURES = re.compile(
    r"([\u4e00-\u9fff]{2,3}?)(同志|科长|主任|局长|副局长|老师)?(负责|分管|牵头|主管|手上|名下|手头)的?"
    r"(整改|措施|任务|事项|工作)")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤蒙农甘")
# What is asked about a named person that no document holds: how to reach them, where they are.
_PERSONAL = re.compile(r"电话|手机|号码|微信|邮箱|住址|住哪|家住|生日|年龄|多大了|在不在|在吗|在办公室|上班了吗|人在哪")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_HAN_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")
_TYPED_ENGLISH_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]+(?![A-Za-z0-9])")
_ASCII_WORD = re.compile(r"[a-z0-9]+")
_SURNAME_TITLE = re.compile(rf"([\u4e00-\u9fff])({'|'.join(map(re.escape, _TITLES))})")
_ROLE_WORD = re.compile(r"长|主任|书记|组长|工程师|主席|委员")
# Measure words after 几 (how many …); not 岁, 天, 年, 月, 点: an age or a time is a topic.
_COUNTERS = frozenset("个位名人所包样种项条家件份张台辆批套部本类")
# 两天, 两个月: a count the segmenter keeps whole, where documents write 2天 and 2个月 (一天 is
# left alone: it often means "a day", "per day").
_SPOKEN_COUNT = re.compile(r"两个?(?:天|日|周|月|年|次|小时|礼拜|星期)")
_POSITION_PARTS = re.compile(r"[、，,；;/（）()\s]+")
_ROLE_ENDINGS = ("长", "主任", "书记", "组长", "工程师", "处长", "主席", "委员")
# The whole of a document asked for (把整个制度给我看下, 全文).
_WHOLE_OF_IT = r"(整个|整份|完整的?)(制度|文件|办法|规定|规程)|全文|原文"
_DOCUMENT_CUES = re.compile(
    r"(哪个|哪份|哪部|哪项|什么|哪些)(文件|制度|规定|办法|规程|方案|准则|规范|细则|条例)|"
    r"(制度|规定|办法|规程|方案|准则|规范|细则|条例|纪律).{0,6}"
    r"(讲什么|讲的是什么|讲的什么|讲了什么|讲了啥|讲的啥|讲啥|说了什么|说了啥|说的什么|哪些内容|什么内容|主要内容|"
    r"叫什么|是什么)|"
    r"发(我|给我)(看看|看下|一下|一份)?|给我看|发一下|发一份|发过来|"
    r"有没有.{0,12}(制度|规定|办法|文件)|是哪个(?!部门|科室|单位|领导|人|科|处|室|组)|施行|生效|实施日期|"
    r"印发|发布|出台|制定的|谁制定|哪个单位发|发文|文号|在哪里看|在哪看|在哪儿看|哪里能看|找不到|"
    r"方面.{0,4}(注意|要求|规定)|"  # 保密方面要注意些什么, 财务方面有哪些要求: the whole of it
    rf"有(什么|哪些)规矩|{_WHOLE_OF_IT}"
)
# Asking for the document itself, not for what it says on a point (陪餐人数有什么规定 is the latter):
# whether there is one, to see it, where it is, what it is about.
_WHOLE_DOCUMENT = re.compile(
    r"有没有.{0,12}(制度|规定|办法|文件)|发(我|给我)?(看看|看下|一下|一份)|给我看|"
    r"(制度|规定|办法|规程|细则)(在哪里?|在哪儿)|(制度|规定|办法|规程|细则)(讲|说)的?(是)?(什么|啥)|"
    + _WHOLE_OF_IT
)
# Which document it is (哪个制度管这个, 那个文件叫啥), or the whole of it (把整个制度给我看下, 全文):
# the regulation of the best article is the answer.
_WHICH_DOCUMENT = re.compile(
    r"(哪个|哪份|哪部|哪一个|哪一份)(文件|制度|规定|办法|规程|细则)|(文件|制度|规定|办法|规程|细则)(叫什么|叫啥|名字)|"
    + _WHOLE_OF_IT)
# A question about something (怎么销号, 要写哪些内容) wants the article that says it, even when every
# word of it is in a regulation's title.
_INTERROGATIVE = re.compile(
    r"怎么|怎样|如何|哪些|哪个|什么|多少|几|吗|呢|能不能|可不可以|可以|是否|谁|要不要|咋|啥|为何|为什么|干嘛|干吗"
)
_DOCUMENT_ENDING = re.compile(
    r"(制度|规定|办法|规程|细则|方案|准则|规范|条例|纪律|守则)(吗|呢|吧|有吗|有没有|在哪|在哪里|都?有哪些)?$|有(什么|哪些)规定")
# The customary first article of a Chinese regulation: 为(了)…，根据…，制定本办法/规定/制度…
_PREAMBLE = re.compile(r"为了?[^。]{2,120}?制定本")
_ARTICLE_IN_TARGET = re.compile(r"第?([0-9]+|[零〇一二两三四五六七八九十百千]+)条")
# A sum of money in a question: digits then a currency word or a bound (60000块, 5000以上).
_QUESTION_AMOUNT = re.compile(r"(\d+)(?=元|块|钱|以上|以下|以内|左右|多块|多元)"
                              r"|(?:花了?|花费|用了|共计|金额|费用|价值|报销了?|罚款?)(\d+)(?![0-9次天个年月日号人条项周])"
                              # A round sum with no unit after it (罚一家公司15万): money, in our rules.
                              r"|(?<![0-9a-z])([1-9]\d*000)(?![0-9次天个年月日号人条项周名所家辆件份台套间户位])")
# Bounds on sums of money in a document (normalised: no punctuation, numerals as digits).
_AMOUNT_BOUND = re.compile(
    r"(?P<low>\d+)元?(?:含)?(?:以上|至|到|-)(?P<high>\d+)元(?:含)?(?:以下|以内)?"
    r"|(?P<under>\d+)元(?:含)?(?:以下|以内)|(?:不超过|不高于|低于|不足|少于|不满)(?P<under2>\d+)元"
    r"|(?P<over>\d+)元(?:含)?(?:以上)|(?:超过|高于|大于|达到)(?P<above>\d+)元"
)
# Not right after digits: the 万 of 8万块 is 8's magnitude (_DIGIT_MAGNITUDE), not a numeral of its own.
_NUMERAL_UNIT = re.compile(r"(?<![0-9])([零〇一二两三四五六七八九十百千万]+)"
                           r"(?=[天日个次年月元条人时周项名分岁倍间所块%])")


_DIGIT_MAGNITUDE = re.compile(r"(\d+(?:\.\d+)?)([万千])")
# An amount said without a unit (花了一万二, 五千以上): a digit, then 百/千/万 — never the idioms
# 千万 and 万一, which start with the magnitude.
_NUMERAL_AMOUNT = re.compile(r"(?<![0-9零〇一二两三四五六七八九十百千万])"
                             r"([一二两三四五六七八九十][零〇一二两三四五六七八九十]*[百千万][零〇一二两三四五六七八九十百千万]*)"
                             r"(?![零〇一二两三四五六七八九十百千万])")


def numerals_to_digits(text: str) -> str:
    """三天 → 3天, 五千元 → 5000元, 8万 → 80000: documents and questions write numbers both ways."""

    def as_digits(match: re.Match[str]) -> str:
        if match.group(1) in ("一", "两"):
            return match.group(1)  # 一年, 一次, 两天: "a" or "per", written the same way in documents
        value = chinese_to_int(match.group(1))
        return str(value) if value is not None else match.group(1)

    text = _NUMERAL_UNIT.sub(as_digits, text)
    if "万" in text or "千" in text or "百" in text:
        text = _NUMERAL_AMOUNT.sub(as_digits, text)
    return _DIGIT_MAGNITUDE.sub(_magnitude, text) if ("万" in text or "千" in text) else text


def _magnitude(match: re.Match[str]) -> str:
    """8万 → 80000, 1.5千 → 1500; left as written when it is no whole number."""
    value = float(match.group(1)) * (10000 if match.group(2) == "万" else 1000)
    return str(round(value)) if abs(value - round(value)) < 1e-6 else match.group(0)


# normalize() drops the decimal point with the rest of the punctuation (1.5万 would read 15万), so
# a decimal amount with a magnitude is worked out first.
_DECIMAL_MAGNITUDE = re.compile(r"(\d+\.\d+)\s*([万千])")


def _decimal_amounts(text: str) -> str:
    return _DECIMAL_MAGNITUDE.sub(_magnitude, text) if "." in text else text


# So is the colon of a clock time: 17:30 would read 1730, a number like any other; 17点30 is a time.
_CLOCK_TIME = re.compile(r"(?<![0-9])([0-9]{1,2})[:：]([0-5][0-9])(?![0-9])")


def _before_normalizing(text: str) -> str:
    text = _decimal_amounts(text)
    return _CLOCK_TIME.sub(r"\1点\2", text) if (":" in text or "：" in text) else text


@lru_cache(maxsize=4096)
def _index_text(text: str) -> str:
    return numerals_to_digits(normalize(_before_normalizing(text)))


def matchable(text: str) -> str:
    """The compact, digit-normalised form both questions and documents are compared in."""
    return numerals_to_digits(compact(_before_normalizing(text)))


# ---- results ------------------------------------------------------------------------------------

class SmallTalk(StrEnum):
    """What a message that is no question on our documents is, for a reply that fits it."""

    GREETING = "greeting"  # 你好, 在吗, 测试: wants a sign of life and how to ask
    THANKS = "thanks"  # 谢谢, 辛苦了
    OK = "ok"  # 好的, 收到, 再见
    ABOUT_BOT = "about_bot"  # 你是谁, 你能做什么
    ERRAND = "errand"  # 帮我订票, 帮我写总结: a task, not a question
    ELSEWHERE = "elsewhere"  # the weather, lunch, the holiday calendar, a joke: not our documents
    HELP = "help"  # 帮助, help, 怎么用: how to use the bot (/help)
    CATALOGUE = "catalogue"  # 有哪些制度, 制度目录: the list of regulations (/regs)


# The whole message asks how to use the bot, or for the list of regulations: never an article
# that happens to say 帮助 (帮助联系的困难学校) or 制度.
_HELP_ASKED = re.compile(r"(帮助|help|怎么用|咋用|如何使用|怎样使用|怎么使用|使用说明|使用方法|使用帮助|用法|说明书|"
                         r"操作指南|使用指南|菜单|功能|有什么功能|有哪些功能)(一下)?(呢|啊|呀)?")
_CATALOGUE_ASKED = re.compile(
    r"(我们|咱们|本|局里|局机关)?局?(现在|目前)?(都|一共|总共)?有?(哪些|什么|多少|几项|几个|啥)(规章)?制度(呢|啊|呀)?|"
    r"(规章)?制度(都)?(有哪些|有什么|有啥|目录|清单|列表|一览|汇编|名录)(呢|啊|呀)?|(所有|全部)的?(规章)?制度|"
    r"(看看|查看|列出|列一下)(所有|全部)?的?(规章)?制度")


def _small_talk(said: str) -> SmallTalk | None:
    """Small talk as it was typed (明年春节放几天假, not the 放假几天 it is read as), or None."""
    if _CHITCHAT.fullmatch(said):
        if _THANKS.search(said):
            return SmallTalk.THANKS
        return SmallTalk.GREETING if _HELLO.search(said) else SmallTalk.OK
    if _ABOUT_BOT.search(said):
        return SmallTalk.ABOUT_BOT
    if _HELP_ASKED.fullmatch(said):
        return SmallTalk.HELP
    if _CATALOGUE_ASKED.fullmatch(said):
        return SmallTalk.CATALOGUE
    if _ERRAND.match(said):
        return SmallTalk.ERRAND
    if _PASTIME.search(said) or _WEATHER.fullmatch(said) or _SMALL_TALK.fullmatch(said):
        return SmallTalk.ELSEWHERE
    return None


@dataclass(frozen=True)
class Hit:
    kind: Kind
    key: str
    no: int | None
    title: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "no": self.no, "title": self.title,
                "score": round(self.score, 4)}


class Ranking(StrEnum):
    """Which unit a figures question asks for."""

    MOST_OVERDUE = "most_overdue"  # 哪个单位逾期最多
    SLOWEST = "slowest"  # 哪个科室完成率最低 / 进度最慢
    FASTEST = "fastest"  # 哪个县区完成得最好


_RANKINGS: list[tuple[re.Pattern[str], Ranking]] = [
    (re.compile(r"(逾期|超期|拖期|延误)[^，。？?]{0,6}最多|最多[^，。？?]{0,6}(逾期|超期)"), Ranking.MOST_OVERDUE),
    (re.compile(r"最(低|慢|差|落后)|倒数"), Ranking.SLOWEST),
    (re.compile(r"最(高|快|好)"), Ranking.FASTEST),
]


@dataclass(frozen=True)
class ReportQuery:
    """A request for the campaign's figures (完成率, 哪个单位逾期最多): the 公示 summary, of one
    责任单位 when the question names one, led by the unit asked for when it asks for a ranking."""

    unit: str | None = None
    ranking: Ranking | None = None

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "ranking": self.ranking.value if self.ranking else None}


@dataclass(frozen=True)
class DueWindow:
    """Days from `first` to `last` (inclusive), as the question put it (下周 → 下周（12月14日至12月20日）):
    of deadlines ahead (下周到期的) or of sign-offs past (本周销号的)."""

    first: dt.date
    last: dt.date
    said: str

    def holds(self, day: dt.date | None) -> bool:
        return day is not None and self.first <= day <= self.last


#: A window of deadlines: 今天到期的, 下周到期的, 本月到期, 快到期的, 10天内到期.
_DUE_WINDOW = re.compile(
    r"(?P<when>今天|今日|明天|后天|本周|这周|这个?星期|本星期|下周|下个?星期|本月|这个?月|下个?月|"
    r"(?P<days>[0-9]{1,3})(天|日)(之)?内|最近|近期|快要?|即将|马上|临近)(要|就)?(到期|截止)"
)
DUE_SOON_DAYS = 7  # 快到期的: as the report's 7日内到期
# Windows looking back, ending today at the latest (`_closed_window` reads them).
_PAST_WHEN = (r"昨天|本周|这周|这个?星期|本星期|上周|上个?星期|本月|这个?月|上个?月|今年|本年|"
              r"近(?P<days>[0-9]{1,3})(天|日)")
# Signed off in a past window (本周销号的, 这个月销号了几项): looking back, where _DUE_WINDOW looks ahead.
_CLOSED_WINDOW = re.compile(rf"(?P<when>今天|今日|最近|近期|{_PAST_WHEN})(已经?|刚刚?|新)?(销号|销了号|通过验收)")

# Overdue with deadlines in a past window (上个月逾期的, 本周到期没完成的): looking back, as sign-offs do.
_LATE_WINDOW = re.compile(
    rf"(?P<when>{_PAST_WHEN})(就|已经?|都)?(逾期|超期|过期|到期(还|却|但|仍)?(没|未)有?(完成|办完|办结|整改完)?)"
)


def _span(first: dt.date, last: dt.date, word: str) -> DueWindow:
    """本周（12月7日至12月13日）; 本周（12月7日） on a Monday, when the window is that one day."""
    days = f"{first.month}月{first.day}日" + (f"至{last.month}月{last.day}日" if last != first else "")
    return DueWindow(first, last, f"{word}（{days}）")


def _due_window(when: str, days: str | None, today: dt.date) -> DueWindow:
    if days is not None:
        return _span(today, today + dt.timedelta(days=int(days)), f"{int(days)}天内")
    single = {"今天": 0, "今日": 0, "明天": 1, "后天": 2}.get(when)
    if single is not None:
        day = today + dt.timedelta(days=single)
        return DueWindow(day, day, when)
    monday = today - dt.timedelta(days=today.weekday())
    if when.startswith("下") and when.endswith(("周", "星期")):
        return _span(monday + dt.timedelta(days=7), monday + dt.timedelta(days=13), "下周")
    if when.endswith(("周", "星期")):
        return _span(today, monday + dt.timedelta(days=6), "本周")
    this_month_end = month_end(today.year, today.month)
    if when.startswith("下") and when.endswith("月"):
        first = this_month_end + dt.timedelta(days=1)
        return _span(first, month_end(first.year, first.month), "下个月")
    if when.endswith("月"):
        return _span(today, this_month_end, "本月")
    return _span(today, today + dt.timedelta(days=DUE_SOON_DAYS), f"{DUE_SOON_DAYS}天内")


def _closed_window(when: str, days: str | None, today: dt.date) -> DueWindow:
    if days is not None:
        return _span(today - dt.timedelta(days=int(days)), today, f"近{int(days)}天")
    if when in ("今天", "今日", "昨天"):
        day = today - dt.timedelta(days=1 if when == "昨天" else 0)
        return DueWindow(day, day, when)
    monday = today - dt.timedelta(days=today.weekday())
    if when.startswith("上") and when.endswith(("周", "星期")):
        return _span(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1), "上周")
    if when.endswith(("周", "星期")):
        return _span(monday, today, "本周")
    first_of_month = today.replace(day=1)
    if when.startswith("上") and when.endswith("月"):
        last = first_of_month - dt.timedelta(days=1)
        return _span(last.replace(day=1), last, "上个月")
    if when.endswith("月"):
        return _span(first_of_month, today, "本月")
    if when.endswith("年"):
        return _span(today.replace(month=1, day=1), today, "今年")
    return _span(today - dt.timedelta(days=DUE_SOON_DAYS), today, f"近{DUE_SOON_DAYS}天")


@dataclass(frozen=True)
class ListQuery:
    """A request for a list of measures; every given field must hold."""

    owner: str | None = None
    leader: str | None = None
    unit: str | None = None
    statuses: frozenset[MeasureStatus] | None = None
    overdue: bool = False
    mine: bool = False  # owned by the asker
    led_by_me: bool = False  # supervised by the asker (我分管的, 待我审核的)
    due: DueWindow | None = None  # open, with a deadline in this window (下周到期的)
    closed: DueWindow | None = None  # signed off in this window (本周销号的)

    @property
    def personal(self) -> bool:
        """Only the asker's own: needs to know who is asking."""
        return self.mine or self.led_by_me

    def describe(self) -> str:
        if self.led_by_me and self.statuses == frozenset({MeasureStatus.DONE}) and not (
                self.mine or self.owner or self.leader or self.unit or self.overdue or self.due or self.closed):
            return "待您审核销号的整改措施"  # 待我审核的: what the asker signs off, as /todo says it
        parts = []
        if self.mine:
            parts.append("您负责的")
        if self.led_by_me:
            parts.append("您分管的")
        if self.owner:
            parts.append(f"{self.owner}负责的")
        if self.leader:
            parts.append(f"{self.leader}分管的")
        if self.unit:
            parts.append(f"{self.unit}的")
        if self.overdue and not self.due:
            parts.append("已逾期的")
        if self.statuses and not self.closed:
            parts.append("、".join(s.label for s in sorted(self.statuses)) + "的")
        if self.due:
            parts.append(f"{self.due.said}到期" + ("、已逾期的" if self.overdue else "的"))
        if self.closed:
            parts.append(f"{self.closed.said}销号的")
        return "".join(parts) + "整改措施"

    def to_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "leader": self.leader, "unit": self.unit, "overdue": self.overdue,
                "mine": self.mine, "led_by_me": self.led_by_me,
                "due": {"from": self.due.first.isoformat(), "to": self.due.last.isoformat()} if self.due else None,
                "closed": ({"from": self.closed.first.isoformat(), "to": self.closed.last.isoformat()}
                           if self.closed else None),
                "statuses": sorted(s.value for s in self.statuses) if self.statuses else None}


@dataclass(frozen=True)
class Answer:
    query: str
    answered: bool
    hits: list[Hit]
    listing: ListQuery | None = None
    listed: tuple[str, ...] = ()  # every matching measure code when `listing` is set
    requested_article: int | None = None  # 第N条 asked for but absent
    unknown_code: str | None = None  # a code-like word that matches no measure
    small_talk: SmallTalk | None = None  # not a question on our documents (你好, 谢谢, 帮我订票)
    report: ReportQuery | None = None  # the campaign's figures (完成率是多少): answered with the summary

    @property
    def related(self) -> list[Hit]:
        """What to show under an answer as related: the next few hits, if each is worth suggesting
        on its own (公车私用怎么处理 should not end with rules that match a tenth of it)."""
        return [h for h in self.hits[1:4] if h.score >= SUGGEST_AT] if self.answered else []

    @property
    def is_miss(self) -> bool:
        """A question the documents should have answered and did not: counted for `zhenggai
        misses`, where an admin can teach the bot its wording. Small talk, lists, unknown
        codes and empty text are not such questions."""
        return (not self.answered and self.listing is None and self.unknown_code is None
                and self.small_talk is None and self.report is None and bool(normalize(self.query)))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"query": self.query, "answered": self.answered,
                               "hits": [h.to_json() for h in self.hits]}
        if self.listing is not None:
            out["list"] = self.listing.to_json() | {"count": len(self.listed)}
        if self.report is not None:
            out["report"] = self.report.to_json()
        return out


# ---- what the engine remembers about each document ----------------------------------------------

@dataclass(slots=True)
class _Doc:
    kind: Kind
    key: str
    no: int | None
    title: str
    own: str  # matchable text of the document itself
    context: str = ""  # article: its regulation's title and keywords
    title_text: str = ""  # regulation: title and aliases only
    preamble: bool = False  # article: 为…，根据…，制定本办法 — the regulation's purpose, not a rule
    alive: bool = True


@dataclass(slots=True)
class MeasureInfo:
    """What list questions and status cards need without a database round trip."""

    code: str
    unit: str
    owner: str
    leader: str | None
    status: MeasureStatus
    deadline: dt.date | None
    closed_on: dt.date | None = None  # the (local) day it was signed off, when it is

    def overdue(self, today: dt.date) -> bool:
        return self.status.is_open and self.deadline is not None and self.deadline < today


@dataclass
class _KindIndex:
    docs: list[_Doc] = field(default_factory=list)
    positions: dict[tuple[str, int | None], int] = field(default_factory=dict)
    base: Segment = field(default_factory=lambda: Segment([]))
    base_size: int = 0
    extra: Segment = field(default_factory=lambda: Segment([]))
    extra_terms: list[DocTerms] = field(default_factory=list)
    dead: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    priced: list[int] = field(default_factory=list)  # positions of rules setting bounds on sums of money


class PhraseIndex:
    """Finds the longest known phrase (a name, a unit) in a text without scanning every phrase."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._by_first: dict[str, list[str]] = defaultdict(list)
        for phrase in set(phrases):
            if phrase:
                self._by_first[phrase[0]].append(phrase)
        for candidates in self._by_first.values():
            candidates.sort(key=len, reverse=True)

    def first(self, text: str) -> str | None:
        """The longest phrase occurring in the text (earliest position breaks ties)."""
        best: str | None = None
        for position, char in enumerate(text):
            for phrase in self._by_first.get(char, ()):
                if text.startswith(phrase, position):
                    if best is None or len(phrase) > len(best):
                        best = phrase
                    break
        return best


@dataclass(frozen=True)
class Person:
    name: str
    unit: str
    position: str
    role: str



def _sound_index(phrases: Iterable[str]) -> dict[tuple[str, ...], set[str]]:
    """Phrases by their toneless pinyin, for recognising homophone typos."""
    index: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for phrase in phrases:
        index[tuple(pinyin_of(phrase))].add(phrase)
    return dict(index)


def _sounds_in(target: str, sounds: dict[tuple[str, ...], set[str]], *, same_first: bool) -> tuple[str | None, str]:
    """The one phrase of `sounds` that a stretch of `target` sounds like but does not spell
    exactly (that is for the exact lookups), with the stretch; longest stretches first."""
    if not sounds:
        return None, ""
    syllables = pinyin_of(target)
    for length in sorted({len(key) for key in sounds}, reverse=True):
        for start in range(len(target) - length + 1):
            found = sounds.get(tuple(syllables[start:start + length]))
            if not found:
                continue
            typed = target[start:start + length]
            candidates = [p for p in found if p != typed and any(a == b for a, b in zip(p, typed, strict=True))
                          and (not same_first or p[0] == typed[0])]
            if len(candidates) == 1 and len(found) == 1:
                return candidates[0], typed
    return None, ""


def english_phrases(terms: dict[str, str]) -> re.Pattern[str] | None:
    """One pattern for the English phrases of several words (send me, annual leave) of `terms`."""
    phrases = [term for term in terms if " " in term]
    if not phrases:
        return None
    spelled = (r"\s+".join(map(re.escape, phrase.split())) for phrase in sorted(phrases, key=len, reverse=True))
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(spelled) + r")(?![A-Za-z0-9])", re.IGNORECASE)


@cache
def english_terms(path: Path) -> dict[str, str]:
    """data/english.yaml: lower-case English word → the Chinese word read in its place."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: 应为「英文词: 中文词」的映射")
    return {" ".join(str(english).lower().split()): str(chinese) for english, chinese in data.items()
            if english and chinese}


class AnswerEngine:
    """The in-memory index and the ranking. Build with `load`; keep current with `refresh`."""

    def __init__(self, analyzer: Analyzer, timezone: dt.tzinfo | None = None) -> None:
        self.analyzer = analyzer
        self.timezone = timezone or dt.UTC
        self.kinds: dict[Kind, _KindIndex] = {k: _KindIndex() for k in KINDS}
        self.measures: dict[str, MeasureInfo] = {}
        self.code_hashes: dict[str, list[str]] = defaultdict(list)
        self.digit_hashes: dict[str, list[str]] = defaultdict(list)
        self.code_keys: dict[str, str] = {}
        self.code_prefixes: set[str] = set()
        self.owners: dict[str, int] = defaultdict(int)
        self.leaders: dict[str, int] = defaultdict(int)
        self.people: dict[str, Person] = {}
        self._set_people([])
        self._forget_measures()
        self.units: dict[str, str] = {}  # alias -> canonical unit name
        self._learn_units([])
        self.regulation_titles: dict[str, str] = {}
        self.article_numbers: dict[str, set[int]] = defaultdict(set)
        self._aliases: dict[tuple[str, str, int], list[str]] = defaultdict(list)
        # Whole questions an admin tied to an item (taught from /misses): answered as asked.
        self._phrasings: dict[str, tuple[Kind, str, int | None]] = {}
        self._regulation_context: dict[str, str] = {}
        self._df_cache: dict[str, int] = {}
        self._group_cache: dict[str, frozenset[int]] = {}
        self._title_cache: dict[str, DocTerms] = {}
        self._synced_at: dt.datetime | None = None
        # The periodic refresh and one asked for after a chat import must not interleave.
        self._refreshing = asyncio.Lock()
        self.build_seconds = 0.0
        self.english: dict[str, str] = {}  # approval → 审批, for questions mixing in English words
        self._english_phrases: re.Pattern[str] | None = None  # the entries of several words

    # ---- building -------------------------------------------------------------------------------

    @classmethod
    async def load(cls, factory: SessionFactory, settings: Settings) -> AnswerEngine:
        analyzer = Analyzer.shared(settings.data_dir / "dict.txt", settings.data_dir / "synonyms.yaml")
        engine = cls(analyzer, settings.tz)
        engine.english = english_terms(settings.data_dir / "english.yaml")
        engine._english_phrases = english_phrases(engine.english)
        async with transaction(factory) as session:
            await engine.rebuild(session)
        return engine

    async def rebuild(self, session: AsyncSession) -> None:
        started = time.perf_counter()
        synced_at = utcnow()
        regulations = list((await session.scalars(
            select(Regulation).order_by(Regulation.key).execution_options(populate_existing=True)
        )).all())
        articles = list((await session.execute(
            select(Article.regulation_id, Article.no, Article.text).order_by(Article.regulation_id, Article.no)
        )).all())
        cadres = list(await session.scalars(select(Cadre)))
        aliases = list(await session.scalars(select(Alias)))
        measures = (await session.execute(_measure_rows())).all()
        loaded = time.perf_counter()
        self._build(regulations, articles, cadres, aliases, measures)
        log.debug("answer index: data loaded in %.2fs, indexed in %.2fs", loaded - started,
                  time.perf_counter() - loaded)
        self._synced_at = synced_at
        self.build_seconds = time.perf_counter() - started
        log.info("answer index built in %.2fs: %d regulations, %d articles, %d measures",
                 self.build_seconds, len(regulations), len(articles), len(self.measures))

    def _build(
        self,
        regulations: Sequence[Regulation],
        articles: Sequence[Any],
        cadres: Sequence[Cadre],
        aliases: Sequence[Alias],
        measures: Sequence[Any],
    ) -> None:
        started = time.perf_counter()
        self._aliases.clear()
        self._phrasings.clear()
        for alias in aliases:
            said = compact(matchable(alias.phrase))
            if _is_whole_question(said):
                # The table's check constraint keeps kind to the three kinds.
                self._phrasings[said] = (cast(Kind, alias.kind), alias.target_key, alias.article_no or None)
            else:
                self._aliases[(alias.kind, alias.target_key, alias.article_no)].append(alias.phrase)
        self._set_people(cadres)
        for cadre in cadres:
            self.analyzer.add_word(cadre.name)
        self._learn_units([c.unit for c in cadres] + [m.unit for m in measures])

        stage = time.perf_counter()
        by_id = {r.id: r for r in regulations}
        reg_docs = [self._regulation_doc(r) for r in regulations]
        article_docs = []
        for regulation_id, no, text in articles:
            regulation = by_id.get(regulation_id)
            if regulation is not None:
                article_docs.append(self._article_doc(regulation.key, no, text))
        self._forget_measures()
        measure_docs = [self._measure_doc(row) for row in measures]
        analysed = time.perf_counter()
        for kind, docs in (("regulation", reg_docs), ("article", article_docs), ("measure", measure_docs)):
            self._index(kind, docs)  # type: ignore[arg-type]
        self._df_cache.clear()
        log.debug("answer index: people %.2fs, documents analysed %.2fs, postings %.2fs", stage - started,
                  analysed - stage, time.perf_counter() - analysed)

    def _set_people(self, cadres: Sequence[Cadre]) -> None:
        """People and the lookups questions need: by first character, by surname, by role."""
        self.people = {c.name: Person(c.name, c.unit, c.position, c.role.value) for c in cadres}
        self._names = PhraseIndex(name for name in self.people if len(name) >= 2)
        self._name_sounds = _sound_index(name for name in self.people if len(name) >= 2)
        # Never "put right" into someone's name: 章伟 may be another person than 张伟.
        self._name_pairs = {name[i : i + 2] for name in self.people for i in range(len(name) - 1)}
        self._by_surname: dict[str, list[Person]] = defaultdict(list)
        self._with_roles: list[tuple[Person, list[str]]] = []
        for person in self.people.values():
            self._by_surname[person.name[:1]].append(person)
            # Split before normalising: normalising drops the 、 and （） that separate the parts.
            parts = [c for c in (compact(p) for p in _POSITION_PARTS.split(person.position)) if c]
            if any(p.endswith(_ROLE_ENDINGS) for p in parts):
                self._with_roles.append((person, parts))

    def _learn_units(self, names: Iterable[str]) -> None:
        for name in {n for n in names if n}:
            self.analyzer.add_word(name)
            for alias in _unit_aliases(name):
                self.units.setdefault(alias, name)
        self._unit_aliases = PhraseIndex(self.units)
        self._unit_sounds = _sound_index(alias for alias in self.units if len(alias) >= 3)
        self._unit_names = sorted(set(self.units.values()))

    def _regulation_doc(self, regulation: Regulation) -> tuple[_Doc, DocTerms]:
        self.regulation_titles[regulation.key] = regulation.title
        self.analyzer.add_word(compact(regulation.title))
        for keyword in regulation.keywords:
            self.analyzer.add_word(compact(keyword))
        aliases = self._aliases.get(("regulation", regulation.key, 0), [])
        keywords = " ".join(regulation.keywords)
        context = matchable(f"{regulation.title} {keywords}")
        self._regulation_context[regulation.key] = context
        facts = _document_facts(regulation)
        doc = _Doc("regulation", regulation.key, None, regulation.title,
                   own=matchable(f"{regulation.title} {keywords} {regulation.summary} {' '.join(aliases)} {facts}"),
                   title_text=matchable(f"{regulation.title} {' '.join(aliases)}"))
        # The facts count for coverage only: as index terms, shared by every regulation, they
        # would shift the rarity of 发文, 实施 … for all questions.
        terms = _join(self._weighted(regulation.title, 3.0), self._weighted(keywords, 2.0),
                      self._weighted(regulation.summary, 1.0), self._weighted(" ".join(aliases), 3.0))
        self.article_numbers[regulation.key] = set()
        return doc, terms

    def _article_doc(self, key: str, no: int, text: str) -> tuple[_Doc, DocTerms]:
        self.article_numbers[key].add(no)
        aliases = self._aliases.get(("article", key, no), [])
        title = self.regulation_titles.get(key, key)
        doc = _Doc("article", key, no, f"《{title}》第{no}条",
                   own=matchable(f"{text} {' '.join(aliases)}"),
                   context=self._regulation_context.get(key, ""), preamble=bool(_PREAMBLE.match(text.strip())))
        # Article texts skip jieba words: bigrams and pinyin recall them as well, at a third of the cost.
        terms = _join(self._weighted(text, 1.0, words=False),
                      self._weighted(" ".join(aliases), 2.0), self._title_terms(title))
        return doc, terms

    def _forget_measures(self) -> None:
        self.measures = {}
        self.code_hashes = defaultdict(list)
        self.digit_hashes = defaultdict(list)
        self.code_keys = {}
        self.code_prefixes = set()
        self.owners = defaultdict(int)
        self.leaders = defaultdict(int)
        self._by_owner: dict[str, set[str]] = defaultdict(set)
        self._by_leader: dict[str, set[str]] = defaultdict(set)
        self._by_unit: dict[str, set[str]] = defaultdict(set)
        self._list_arrays: _ListArrays | None = None

    def _remember_measure(self, info: MeasureInfo, key: str) -> None:
        """Record a measure for codes and lists; `key` is `code_key(info.code)`."""
        self.measures[info.code] = info
        self._list_arrays = None
        self.code_keys[key] = info.code
        self.code_hashes[key.replace("0", "")].append(info.code)
        prefix = _LETTERS.match(key).group(0)  # type: ignore[union-attr]  # matches the empty string too
        if prefix:
            self.code_prefixes.add(prefix)
        self.digit_hashes[key[len(prefix):].replace("0", "")].append(info.code)
        self.owners[info.owner] += 1
        self._by_owner[info.owner].add(info.code)
        self._by_unit[info.unit].add(info.code)
        if info.leader:
            self.leaders[info.leader] += 1
            self._by_leader[info.leader].add(info.code)

    def _forget_measure(self, code: str) -> None:
        info = self.measures.pop(code, None)
        if info is None:
            return
        self._list_arrays = None
        key = code_key(code)
        self.code_keys.pop(key, None)
        letters = re.match(r"[A-Z]*", key)
        prefix = letters.group(0) if letters else ""
        for table, hashed in ((self.code_hashes, code_hash(key)), (self.digit_hashes, code_hash(key[len(prefix):]))):
            if code in table.get(hashed, []):
                table[hashed].remove(code)
        self.owners[info.owner] -= 1
        self._by_owner[info.owner].discard(code)
        self._by_unit[info.unit].discard(code)
        if info.leader:
            self.leaders[info.leader] -= 1
            self._by_leader[info.leader].discard(code)
        for counts in (self.owners, self.leaders):
            for name in [n for n, count in counts.items() if count <= 0]:
                del counts[name]

    def _measure_doc(self, row: Any) -> tuple[_Doc, DocTerms]:
        code = row.code
        key = code_key(code)
        if code in self.measures:
            self._forget_measure(code)
        closed_on = (row.closed_at.astimezone(self.timezone).date()
                     if row.closed_at is not None and row.status is MeasureStatus.CLOSED else None)
        self._remember_measure(MeasureInfo(code, row.unit, row.owner, row.leader, row.status, row.deadline,
                                           closed_on), key)
        aliases = " ".join(self._aliases.get(("measure", code, 0), []))
        # Field by field: units, categories and names repeat across thousands of measures, and
        # each distinct one is normalised once.
        main = " ".join(_index_text(field) for field in
                        (row.problem, row.measure, row.unit, row.category, row.owner, row.leader or ""))
        rest = numerals_to_digits(normalize(row.progress)) if row.progress else ""
        doc = _Doc("measure", code, None, f"{code} {row.problem[:60]}",
                   own=f"{main}{rest}{aliases and compact(aliases)}{_MEASURE_FACTS}".replace(" ", ""))
        # Measures are indexed by bigrams only (no words, pinyin or synonyms: 100,000 of them must
        # index in seconds, and bigrams recall them well); the re-ranking still matches candidates
        # by sound and synonym. Aliases an admin added get the full analysis.
        ascii_terms = [(f"a:{word}", 1.0) for word in _ASCII_WORD.findall(main)]
        ascii_terms.append((f"a:{key.lower()}", 2.0))
        if not aliases:
            return doc, ([(main, 1.0)], ascii_terms)
        return doc, _join(([(main, 1.0)], ascii_terms), self._weighted(aliases, 2.0))

    def _title_terms(self, title: str) -> DocTerms:
        """The regulation title as weak context for each of its articles, analysed once per title."""
        terms = self._title_cache.get(title)
        if terms is None:
            if len(self._title_cache) > 10000:
                self._title_cache.clear()
            terms = self._title_cache[title] = self._weighted(title, 0.3)
        return terms

    def _weighted(self, text: str, weight: float, *, words: bool = True, pinyin: bool = True) -> DocTerms:
        if not text.strip():
            return [], []
        return self.analyzer.doc_terms(numerals_to_digits(normalize(text)), weight, words=words, pinyin=pinyin)

    def _index(self, kind: Kind, docs: Sequence[tuple[_Doc, DocTerms]]) -> None:
        index = _KindIndex()
        index.docs = [d for d, _ in docs]
        index.positions = {(d.key, d.no): i for i, d in enumerate(index.docs)}
        index.base = Segment([t for _, t in docs])
        index.base_size = len(docs)
        index.dead = np.zeros(len(docs), dtype=bool)
        index.priced = [i for i, d in enumerate(index.docs) if _is_priced(d)]
        self.kinds[kind] = index

    # ---- keeping current ------------------------------------------------------------------------

    async def refresh(self, session: AsyncSession) -> int:
        """Pick up what changed since the last build or refresh; returns how many documents."""
        async with self._refreshing:
            return await self._refresh(session)

    async def _refresh(self, session: AsyncSession) -> int:
        since = self._synced_at
        if since is None:
            await self.rebuild(session)
            return -1
        now = utcnow()
        changed_regs = list(await session.scalars(
            select(Regulation).where(Regulation.updated_at >= since)
            .execution_options(populate_existing=True)))
        changed_measures = (await session.execute(_measure_rows().where(Measure.updated_at >= since))).all()
        alias_count = await session.scalar(select(func.count()).select_from(Alias).where(Alias.created_at >= since))
        new_cadres = list(await session.scalars(select(Cadre)))
        self._synced_at = now
        if alias_count:
            # Aliases are few and change rarely; rebuilding keeps the code simple and exact.
            await self.rebuild(session)
            return -1
        if len(changed_measures) > max(2000, len(self.measures) // 10):
            await self.rebuild(session)
            return -1
        self._set_people(new_cadres)
        for cadre in new_cadres:
            self.analyzer.add_word(cadre.name)
        self._learn_units([c.unit for c in new_cadres] + [m.unit for m in changed_measures])
        updates: dict[Kind, list[tuple[_Doc, DocTerms]]] = defaultdict(list)
        for regulation in changed_regs:
            doc, terms = self._regulation_doc(regulation)
            updates["regulation"].append((doc, terms))
            for article in await session.scalars(select(Article).where(Article.regulation_id == regulation.id)):
                updates["article"].append(self._article_doc(regulation.key, article.no, article.text))
            self._kill_articles_of(regulation.key)
        for row in changed_measures:
            updates["measure"].append(self._measure_doc(row))
        for kind, docs in updates.items():
            self._add_extra(kind, docs)
        self._df_cache.clear()
        return sum(len(v) for v in updates.values())

    def _kill_articles_of(self, key: str) -> None:
        index = self.kinds["article"]
        for position, doc in enumerate(index.docs):
            if doc.key == key and doc.alive:
                doc.alive = False
                if position < len(index.dead):
                    index.dead[position] = True
        self.article_numbers[key] = set()

    def _add_extra(self, kind: Kind, docs: list[tuple[_Doc, DocTerms]]) -> None:
        index = self.kinds[kind]
        for doc, terms in docs:
            old = index.positions.get((doc.key, doc.no))
            if old is not None:
                index.docs[old].alive = False
                if old < index.base_size:
                    index.dead[old] = True
            position = len(index.docs)
            index.docs.append(doc)
            index.positions[(doc.key, doc.no)] = position
            index.extra_terms.append(terms)
            if _is_priced(doc):
                index.priced.append(position)
            if doc.kind == "article" and doc.no is not None:
                self.article_numbers[doc.key].add(doc.no)
        # The overlay is small by construction (a full rebuild happens past 10%), so rebuilding it is cheap.
        index.extra = Segment(index.extra_terms)

    def update_measure(self, code: str, *, status: MeasureStatus, deadline: dt.date | None,
                       closed_on: dt.date | None = None) -> None:
        """A status change or new deadline needs no re-indexing: the text is unchanged."""
        info = self.measures.get(code)
        if info is not None:
            info.status = status
            info.deadline = deadline
            info.closed_on = closed_on if status is MeasureStatus.CLOSED else None
            self._list_arrays = None

    # ---- statistics -----------------------------------------------------------------------------

    def document_count(self) -> int:
        return sum(sum(1 for d in idx.docs if d.alive) for idx in self.kinds.values())

    def memory_bytes(self) -> int:
        return sum(idx.base.memory_bytes() + idx.extra.memory_bytes() for idx in self.kinds.values())

    def _df(self, term: str) -> int:
        cached = self._df_cache.get(term)
        if cached is None:
            cached = sum(idx.base.document_frequency(term) + idx.extra.document_frequency(term)
                         for idx in self.kinds.values())
            self._df_cache[term] = cached
        return cached

    def _total_docs(self) -> int:
        return max(1, sum(len(idx.docs) for idx in self.kinds.values()))

    # ---- asking ---------------------------------------------------------------------------------

    def today(self) -> dt.date:
        return dt.datetime.now(self.timezone).date()

    def is_small_talk(self, text: str) -> bool:
        """你好, 谢谢, 收到, the weather …: no question on our documents, whatever it replies to."""
        return _small_talk(matchable(self._english_read(text.strip()))) is not None

    def asks_about_rules(self, text: str) -> bool:
        """Is the question worded as one on the rules (逾期了怎么处理, 要谁批, 按制度…)?"""
        said = matchable(self._english_read(text.strip()))
        return _RULE_CUES.search(said) is not None or "制度" in said

    def ask(self, question: str, *, asker: str | None = None, today: dt.date | None = None) -> Answer:
        query = question.strip()
        text = query[:MAX_QUESTION_CHARS]
        said = matchable(self._english_read(text))
        target = self._rejoined(self._respelled(said))
        if not target:
            # 👍 / 🙏 acknowledge as 好的 does; ？？？ or a lone mark wants to know how to ask.
            if any(unicodedata.category(c) == "So" for c in text):
                return Answer(query, False, [], small_talk=SmallTalk.OK)
            return Answer(query, False, [], small_talk=SmallTalk.GREETING if text.strip() else None)
        today = today or self.today()

        # Small talk as it was said (明年春节放几天假, not the 放假几天 it is read as).
        small_talk = _small_talk(said)
        if small_talk is not None:
            return Answer(query, False, [], small_talk=small_talk)

        codes, unknown_code = self._find_codes(text)
        if codes:
            hits = [self._measure_hit(code, 1.0) for code in codes[:MAX_HITS]]
            return Answer(query, len(codes) == 1, hits)
        if unknown_code:
            return Answer(query, False, [], unknown_code=unknown_code)
        taught = self._taught(said)
        if taught is not None:
            return Answer(query, True, [taught])
        if _BARE_NUMBER.fullmatch(said):
            # 1, 30号: a number alone says nothing to look for (what it counts is not said); many
            # articles hold it. Not a code (those were looked up above), so no answer.
            return Answer(query, False, [])

        article_no = find_article_no(text)
        body = _ARTICLE_IN_TARGET.sub(" ", target) if article_no else target
        report = self._report_intent(body) if article_no is None else None
        if report is not None:
            return Answer(query, True, [], report=report)
        listing, residue = self._list_intent(body, asker, today)
        if (listing is None and _PERSONAL.search(body) and not _MEASURE_WORDS.search(body)
                and self._person_in(body)[0] is not None):
            # 张伟的电话 / 黄局长今天在办公室吗: about a person, which no regulation or measure says.
            return Answer(query, False, [])
        if listing is None and self._names_nobody_we_know(body):
            # 王建军负责的整改: a list for a person we do not have; the rules are no answer to it.
            return Answer(query, False, [])
        content = self._content_words(residue if listing is not None else body)
        ranked = self._rank(body, content, today)

        if listing is not None:
            best = ranked[0] if ranked else None
            listed = [s for s in ranked if s.doc.kind == "measure"
                      and self._satisfies(self.measures[s.doc.key], listing, asker, today)]
            # 张伟负责的危房改造那条: the rest of the question singles out one of the listed measures.
            # 李局分管的整改进展: it says what every measure has, and the list is the answer.
            # A lone character (发 of 清单发一下) singles out nothing.
            specific = (best is not None and best.confidence >= ANSWER_AT and bool(listed) and listed[0] is best
                        and any(len(w.text) >= 2 for w in content)
                        and all(s.confidence < best.confidence - 0.01 for s in listed[1:]))
            if not specific:
                return self._list_answer(query, listing, asker, today)
            return Answer(query, True, [s.hit() for s in ranked[:MAX_HITS]])

        if article_no is not None:
            return self._article_answer(query, article_no, ranked, content)

        if not ranked or ranked[0].confidence < SUGGEST_AT:
            return Answer(query, False, [])
        # A candidate none of the question was found in (recalled by a fuzzy title) is no suggestion.
        hits = [s.hit() for s in ranked[:MAX_HITS] if s.confidence > 0]
        return Answer(query, self._sure(answer_features(ranked[0], content)), hits)

    def _sure(self, features: tuple[float, ...]) -> bool:
        """Whether the best candidate, described by `features`, is the answer (or only a suggestion)."""
        return answer_logit(features) > 0

    def _article_answer(self, query: str, article_no: int, ranked: list[_Scored],
                        content: list[QueryWord]) -> Answer:
        """第N条: the regulation named by the rest of the question, then its article N."""
        total = self._content_weight(content)
        families: dict[str, float] = {}
        for scored in ranked:
            if scored.doc.kind == "measure":
                continue
            key = scored.doc.key
            if key not in families:
                context = self._regulation_context.get(key, "")
                families[key] = _cover_text(context, content, total, self._groups(context))
        named = sorted(families.items(), key=lambda kv: -kv[1])
        if named and named[0][1] >= ANSWER_AT:
            key, cover = named[0]
            title = self.regulation_titles.get(key, key)
            if article_no in self.article_numbers.get(key, set()):
                top = Hit("article", key, article_no, f"《{title}》第{article_no}条", cover)
                rest = [s.hit() for s in ranked if not (s.doc.key == key and s.doc.no == article_no)]
                return Answer(query, True, [top, *rest][:MAX_HITS])
            top = Hit("regulation", key, None, title, cover)
            rest = [s.hit() for s in ranked if not (s.doc.kind == "regulation" and s.doc.key == key)]
            return Answer(query, True, [top, *rest][:MAX_HITS], requested_article=article_no)
        # No regulation named: every regulation that has such an article is a candidate.
        having = [key for key, numbers in self.article_numbers.items() if article_no in numbers]
        hits = [Hit("article", key, article_no, f"《{self.regulation_titles.get(key, key)}》第{article_no}条",
                    families.get(key, 0.0)) for key in having]
        hits.sort(key=lambda h: -h.score)
        return Answer(query, len(hits) == 1, hits[:MAX_HITS])

    # ---- codes, people, units, lists ------------------------------------------------------------

    def find_codes(self, text: str) -> list[str]:
        """Measure codes written anywhere in a text, in any spelling (for commands and replies)."""
        return self._find_codes(text)[0]

    def _find_codes(self, text: str) -> tuple[list[str], str | None]:
        """Measure codes in the question; and a code-like word matching none (ZG2025031)."""
        found: list[str] = []
        unknown: str | None = None
        for letters, groups in code_candidates(text):
            digits = "".join(groups)
            if not letters and len(digits) < 4:
                continue
            key = code_key(letters + digits)
            exact = self.code_keys.get(key)
            if exact is not None:
                found.append(exact)
                continue
            table = self.code_hashes if letters else self.digit_hashes
            matches = [c for c in table.get(code_hash(key), [])
                       if code_variant_matches(letters, groups, c) and c not in found]
            found.extend(matches)
            if not matches and letters and letters in self.code_prefixes and len(digits) >= 3:
                unknown = (letters + "".join(groups)).upper()
        return found, (None if found else unknown)

    def _taught(self, said: str) -> Hit | None:
        """The item an admin tied this very question to (or one spelt nearly so): a whole question
        taught is matched as a whole. Lending its words to the item's text instead made the item
        answer other questions that share a few of them (吃饭 of a chatty question taught)."""
        if not self._phrasings:
            return None
        asked = compact(said)
        if len(asked) < PHRASING_MIN:
            return None  # too short to be any taught question
        from rapidfuzz import fuzz, process

        found = process.extractOne(asked, self._phrasings.keys(), scorer=fuzz.ratio, score_cutoff=PHRASING_SAME)
        if found is None:
            return None
        kind, key, no = self._phrasings[found[0]]
        index = self.kinds[kind]  # every kind is indexed by the build that read the phrasings
        position = index.positions.get((key, no))
        if position is None or not index.docs[position].alive:
            return None  # the item is gone (re-imported without it): ask as any question
        doc = index.docs[position]
        return Hit(doc.kind, doc.key, doc.no, doc.title, 1.0)

    def _measure_hit(self, code: str, score: float) -> Hit:
        doc = self.kinds["measure"].docs[self.kinds["measure"].positions[(code, None)]]
        return Hit("measure", code, None, doc.title, score)

    def _person_in(self, target: str) -> tuple[Person | None, str]:
        """A cadre named in the question: full name, surname + title (黄局长), or position (纪检组长)."""
        name = self._names.first(target)
        if name is not None:
            return self.people[name], name
        for match in _SURNAME_TITLE.finditer(target):
            surname, title = match.group(1), match.group(2)
            found = [p for p in self._by_surname.get(surname, [])
                     if title in p.position or (title in ("同志", "老师", "局") and _is_head(p, title))]
            if len(found) == 1:
                return found[0], match.group(0)
        if _ROLE_WORD.search(target):
            person, said = self._person_by_position(target)
            if person is not None:
                return person, said
        # A name typed through a pinyin IME with the wrong character (张为 for 张伟); the surname
        # must be right, since only the sound is compared.
        name, said = _sounds_in(target, self._name_sounds, same_first=True)
        return (self.people[name], said) if name is not None else (None, "")

    def _person_by_position(self, target: str) -> tuple[Person | None, str]:
        """纪检组长 / 分管财务的副局长: the one cadre whose position the question describes."""
        best: list[tuple[float, Person, str]] = []
        for person, parts in self._with_roles:
            roles = [p for p in parts if p.endswith(_ROLE_ENDINGS) and p in target]
            if not roles:
                continue
            role = max(roles, key=len)
            words = [w for p in parts if p not in roles
                     for w in self.analyzer.words(p.removeprefix("分管")) if len(w) >= 2 and w in target]
            # What the question said of the person, from the first telling word to the role
            # (财务的副局长): none of it is a topic for the list to be filtered by.
            ends = [(target.find(w), target.find(w) + len(w)) for w in [role, *words]]
            said = target[min(a for a, _ in ends):max(b for _, b in ends)]
            if len(said) > len(role) + sum(map(len, words)) + POSITION_GAP:
                said = role  # words far apart: what lies between may well be the topic
            best.append((len(role) + sum(map(len, words)), person, said))
        if not best:
            return None, ""
        best.sort(key=lambda t: -t[0])
        if len(best) > 1 and best[0][0] == best[1][0]:
            return None, ""
        return best[0][1], best[0][2]

    def _unit_in(self, target: str) -> tuple[str | None, str]:
        alias = self._unit_aliases.first(target)
        if alias is not None:
            return self.units[alias], alias
        # Abbreviations: 计财科 → 计划财务科, 职成科 → 职业与成人教育科, 应急办 → 卫生应急办公室,
        # 仲裁院 → 劳动人事争议仲裁院 (the same kind of unit, characters in order).
        for match in _UNIT_ABBREVIATION.finditer(target):
            word = match.group(0)
            found = {unit for unit in self._unit_names
                     if unit.endswith((word[-1], _UNIT_KIND.get(word[-1], word[-1]))) and _is_subsequence(word, unit)
                     and len(word) < len(unit)}
            if len(found) == 1:
                return found.pop(), word
        # 覃糖区 for 覃塘区: same sounds, at least one character right.
        alias, said = _sounds_in(target, self._unit_sounds, same_first=False)
        return (self.units[alias], said) if alias is not None else (None, "")

    def _report_intent(self, target: str) -> ReportQuery | None:
        """整改完成率是多少 / 港南区完成了几项 / 哪个单位逾期最多: the figures, when nothing else
        is asked (销号结果公示几天 is a rule: 销号结果 is left over)."""
        if not _REPORT_ASK.search(target):
            return None
        residue = _REPORT_ASK.sub(" ", target)
        unit, unit_text = self._unit_in(residue)
        if unit_text:
            residue = residue.replace(unit_text, " ")
        for pattern, _ in _STATUS_WORDS:
            residue = pattern.sub(" ", residue)
        residue = _MEASURE_NOUNS.sub(" ", _OVERDUE.sub(" ", _LIST_CUES.sub(" ", _RANKING_WORDS.sub(" ", residue))))
        if self._content_weight(self._content_words(residue)) > 0:
            return None
        ranking = None if unit else next((r for pattern, r in _RANKINGS if pattern.search(target)), None)
        return ReportQuery(unit=unit, ranking=ranking)

    def _list_intent(self, target: str, asker: str | None, today: dt.date) -> tuple[ListQuery | None, str]:
        """Recognise 我的/逾期/张伟负责的/港南区的 questions; returns the filter and what is left."""
        awaiting_me = bool(_AWAITING_ME.search(target))
        led_by_me = awaiting_me or bool(_LED_BY_ME.search(target))
        residue = _AWAITING_ME.sub(" ", _LED_BY_ME.sub(" ", target))
        late = _LATE_WINDOW.search(residue)
        window = None if late else _DUE_WINDOW.search(residue)
        due = _due_window(window.group("when"), window.group("days"), today) if window \
            else _closed_window(late.group("when"), late.group("days"), today) if late else None
        residue = _DUE_WINDOW.sub(" ", _LATE_WINDOW.sub(" 逾期 ", residue))
        signed = _CLOSED_WINDOW.search(residue)
        closed = _closed_window(signed.group("when"), signed.group("days"), today) if signed else None
        residue = _CLOSED_WINDOW.sub(" ", residue)
        mine = bool(_MINE.search(residue))
        overdue = bool(late or _OVERDUE.search(target))
        statuses: set[MeasureStatus] = {MeasureStatus.DONE} if awaiting_me else set()
        if closed:
            statuses.add(MeasureStatus.CLOSED)
        for pattern, values in _STATUS_WORDS:
            if pattern.search(residue):
                statuses |= values
                residue = pattern.sub(" ", residue)
        residue = _OVERDUE.sub(" ", _MINE.sub(" ", residue))
        person, person_text = self._person_in(residue)
        unit, unit_text = self._unit_in(residue) if person is None else (None, "")
        for mention in (person_text, unit_text):
            if mention:
                residue = residue.replace(mention, " ")
        cue = bool(_LIST_CUES.search(target))
        residue = _MEASURES_NOUN_ENDING.sub(" ", _LIST_CUES.sub(" ", residue).rstrip())
        # 张伟那边进度怎么样: how someone's measures are going, with no topic, is their list.
        leftover = self._content_weight(self._content_words(_STATUS_CUES.sub(" ", residue)))

        owner = leader = None
        if person is not None:
            owns = person.name in self.owners
            leads = person.name in self.leaders
            wants_leader = bool(_LEADER_CUES.search(target))
            if leads and (wants_leader or not owns):
                leader = person.name
                # 分管财务的副局长管着哪些整改: 管着 says whose list it is, not what it is about.
                residue = _LEADER_CUES.sub(" ", residue)
            elif owns:
                owner = person.name
        if not (mine or led_by_me or overdue or statuses or owner or leader or unit or due):
            return None, target
        if leftover > 0 and not cue:
            # "港南区补贴发了没有" is about one measure, "整改逾期了会被约谈吗" about a rule,
            # "张伟的电话" about nothing we hold: a filter plus a topic is not a list request.
            return None, target
        query = ListQuery(owner=owner, leader=leader, unit=unit,
                          statuses=frozenset(statuses) if statuses else None, overdue=overdue, mine=mine,
                          led_by_me=led_by_me, due=due, closed=closed)
        # What every measure is and has (整改进展, 清单) is no topic to single one out by.
        return query, _MEASURE_GENERIC.sub(" ", residue)

    def _english_read(self, text: str) -> str:
        """English words in a Chinese question read as their Chinese (approval → 审批), on the text as
        typed, where spaces still part the words (data security, not datasecurity). An all-English
        question is left as it is."""
        if not self.english or not _HAN.search(text):
            return text
        typed = unicodedata.normalize("NFKC", text)
        if self._english_phrases is not None:
            # annual leave is 年休假, not 年 + 请假: the phrases first, longest first.
            typed = self._english_phrases.sub(lambda m: self.english[" ".join(m.group(0).lower().split())], typed)
        return _TYPED_ENGLISH_WORD.sub(lambda m: self.english.get(m.group(0).lower(), m.group(0)), typed)

    def _names_nobody_we_know(self, body: str) -> bool:
        """Does the question ask for a named person's measures, the name being nobody we have?"""
        match = _SOMEONES_MEASURES.match(body)
        if match is None:
            return False
        name = match.group(1)
        return (name[0] in _SURNAMES and self._person_in(name)[0] is None and self._unit_in(name)[0] is None
                and self._df(name[:2]) == 0)

    def _satisfies(self, info: MeasureInfo, listing: ListQuery, asker: str | None, today: dt.date) -> bool:
        if listing.mine and info.owner != asker:
            return False
        if listing.led_by_me and info.leader != asker:
            return False
        if listing.owner and info.owner != listing.owner:
            return False
        if listing.leader and info.leader != listing.leader:
            return False
        if listing.unit and info.unit != listing.unit:
            return False
        if listing.overdue and not info.overdue(today):
            return False
        if listing.due and not (info.status.is_open and listing.due.holds(info.deadline)):
            return False
        if listing.closed and not listing.closed.holds(info.closed_on):
            return False
        return not (listing.statuses and info.status not in listing.statuses)

    def list_measures(self, listing: ListQuery, asker: str | None, today: dt.date) -> list[str]:
        """Codes matching a list question, most urgent first (overdue, then nearest deadline)."""
        if listing.closed:
            # Rare, and only closed measures can match: a plain pass, latest sign-off first.
            closed = [m for m in self._list_candidates(listing, asker) if self._satisfies(m, listing, asker, today)]
            closed.sort(key=lambda m: (-(m.closed_on or dt.date.min).toordinal(), m.code))
            return [m.code for m in closed]
        if not (listing.owner or listing.leader or listing.unit or listing.personal):
            return self._scan_by_status(listing, today)
        matching = [m for m in self._list_candidates(listing, asker) if self._satisfies(m, listing, asker, today)]
        # As /mine: still to do, then awaiting sign-off, then signed off.
        matching.sort(key=lambda m: (m.status.stage, m.deadline or dt.date.max, m.code))
        return [m.code for m in matching]

    def _scan_by_status(self, listing: ListQuery, today: dt.date) -> list[str]:
        """逾期的 / 未开始的 over every measure: vectorised, since there may be 100,000 of them."""
        arrays = self._list_arrays
        if arrays is None:
            arrays = self._list_arrays = _ListArrays.of(list(self.measures.values()))
        mask = np.ones(len(arrays.codes), dtype=bool)
        if listing.statuses:
            mask &= np.isin(arrays.status, [_STATUS_INDEX[s] for s in listing.statuses])
        if listing.overdue:
            mask &= arrays.open & (arrays.deadline < today.toordinal())
        if listing.due:
            mask &= arrays.open & (arrays.deadline >= listing.due.first.toordinal()) \
                & (arrays.deadline <= listing.due.last.toordinal())
        chosen = np.flatnonzero(mask)
        order = np.lexsort((chosen, arrays.deadline[chosen], ~arrays.open[chosen]))
        return [arrays.codes[i] for i in chosen[order]]

    def _list_candidates(self, listing: ListQuery, asker: str | None) -> Iterable[MeasureInfo]:
        """Narrow by person or unit through the indexes before checking every condition."""
        person = listing.owner or (asker if listing.mine else None)
        if person is not None:
            return [self.measures[c] for c in self._by_owner.get(person, ())]
        leader = listing.leader or (asker if listing.led_by_me else None)
        if leader is not None:
            return [self.measures[c] for c in self._by_leader.get(leader, ())]
        if listing.unit is not None:
            return [self.measures[c] for c in self._by_unit.get(listing.unit, ())]
        return self.measures.values()

    def _list_answer(self, query: str, listing: ListQuery, asker: str | None, today: dt.date) -> Answer:
        if listing.personal and asker is None:
            return Answer(query, False, [], listing=listing)
        if listing.mine and asker not in self.owners and asker in self.leaders:
            # 我的整改 from a leader who owns none: the measures they supervise, as /mine shows them.
            listing = replace(listing, mine=False, led_by_me=True)
        codes = self.list_measures(listing, asker, today)
        hits = [self._measure_hit(code, 1.0) for code in codes[:MAX_HITS]]
        return Answer(query, True, hits, listing=listing, listed=tuple(codes))

    # ---- ranking --------------------------------------------------------------------------------

    def _content_words(self, target: str) -> list[QueryWord]:
        """The question's meaningful words, weighted by rarity in our data and in Chinese, plus
        one pseudo-word per kind of answer asked for (frequency, deadline, approver …)."""
        asked: list[QueryWord] = []
        for index, (question, _) in enumerate(_ANSWER_TYPES):
            matches = list(question.finditer(target))
            # Every occurrence is cut (从几月到几月), from the last so the earlier positions hold.
            for match in reversed(matches):
                end = self._cue_end(target, match.start(), match.end())
                inside = " ".join(part for part in match.groups() if part)
                target = target[: match.start()] + " " + inside + " " + target[end:]
            if matches:
                asked.append(QueryWord(f"<answer:{index}>", ANSWER_TYPE_WEIGHT, False, frozenset(), answer_type=index))
        return self._plain_content_words(target) + asked

    def _cue_end(self, target: str, start: int, end: int) -> int:
        """Where to stop cutting out an answer-type cue: a cue that ends inside a word (谁签|发)
        gives the word back, since 签发 says what the question is about."""
        position = 0
        for word in self.analyzer.words(target):
            position = target.find(word, position)
            word_end = position + len(word)
            if position < end < word_end and position > start:
                return position
            if position >= end:
                break
            position = word_end
        return end

    def _plain_content_words(self, target: str) -> list[QueryWord]:
        amounts = {next(g for g in m.groups() if g) for m in _QUESTION_AMOUNT.finditer(target)}
        # A synonym phrase with filler inside (突发情况, 一个人去, 买东西) is one word: cutting the
        # filler out first would leave 突发 and 人去.
        words: list[str] = []
        pattern = self.analyzer.synonyms.pattern
        if pattern is not None:
            def keep(match: re.Match[str]) -> str:
                if _STOP_RE.search(match.group(0)):
                    words.append(match.group(0))
                    return " "
                return match.group(0)
            target = pattern.sub(keep, target)
        # After the answer-type cues have been read (要不要 asks if something is required).
        stripped = _STOP_RE.sub(" ", _A_NOT_A.sub(r" \1 ", target) if "不" in target else target)
        for chunk in stripped.split():
            words.extend(w for w in self.analyzer.words(chunk) if w.strip() and w not in STOP_WORDS)
        weighted: list[QueryWord] = []
        seen: set[str] = set()
        for word in map(self._unglued, words):
            if word in seen:
                continue
            seen.add(word)
            if len(word) == 2 and word[0] == "几" and word[1] in _COUNTERS:
                continue  # 几包, 几所, 几位: "how many", asked of something named elsewhere
            if _SPOKEN_COUNT.fullmatch(word) and not self._df(word):
                word = "2"
            if word.isdigit():
                # Numbers (来了15个客人) hint but rarely decide.
                weighted.append(self._query_word(word, 0.5 * self._word_idf(word),
                                                 amount=int(word) if word in amounts else None))
                continue
            if len(word) == 1 and not word.isascii():
                # A lone character carries little meaning unless it is all there is.
                if len(words) == 1:
                    weighted.append(self._query_word(word, 0.5 * self._word_idf(word)))
                continue
            specificity = self.analyzer.specificity(word)
            general = min(1.0, max(0.2, (specificity - 6.5) / 5.0))
            weight = self._word_idf(word) * general
            unseen = self._unseen(word)
            slip = unseen and self._slip_of_domain_word(word)
            # A word no document has but a general synonym of it (房子 ~ 房屋): not mere story.
            alternatives = self._alternatives(word) if unseen and not slip else ()
            if specificity > 17 and unseen and (word[0] in _MODAL_CHARS or not self._heard(word)):
                # 要交, 能去, 完假 (休完假): a segmentation artefact, not a topic — unless it sounds
                # like something we have (制渡 → 制度), which makes it a typo worth matching.
                weight *= 0.3
            elif (len(words) >= STORY_AT and unseen and not slip and not alternatives
                  and not self.analyzer.synonyms.group_ids(word)):
                # 国庆想回湖南老家，出了广西要跟谁报备: the story (湖南, 老家) is why they ask, not what;
                # words no document has, nor a synonym or a sound-alike of it, weigh less there.
                weight *= STORY_WEIGHT
            query_word = replace(self._query_word(word, weight, rare=specificity > 13.5 or slip),
                                 seen=not unseen or slip, alternatives=alternatives)
            if unseen and not slip and len(word) == 2 and _HAN_PAIR.fullmatch(word):
                # Chinese shortens a pair of words to their first characters (医疗美容 → 医美).
                query_word = replace(query_word, short_for=re.compile(f"{word[0]}[\u4e00-\u9fff]{word[1]}"))
            weighted.append(query_word)
        return weighted

    def _alternatives(self, word: str) -> tuple[str, ...]:
        """Words of our documents that a general thesaurus gives as synonyms of `word` (which none
        has, and our own synonym table does not know): 房子 → 房屋, 不肯 → 拒绝."""
        if self.analyzer.synonyms.group_ids(word):
            return ()
        return tuple(a for a in self.analyzer.thesaurus.get(word, ())
                     if all(self._df(a[i : i + 2]) for i in range(len(a) - 1)))

    def _rejoined(self, target: str) -> str:
        """销了号 → 销号, 打不了卡 → 打卡, 请4天假 → 请假4天: a verb and its object said apart, as a word
        of our documents."""
        if "了" in target or "过" in target or "上" in target or "个" in target:
            target = _SPLIT_WORD.sub(
                lambda m: m.group(1) + m.group(3) if self._rejoins(m.group(1) + m.group(3)) else m.group(0), target)
        for match in _HAN_TRIPLE.finditer(target):
            verb, kind, noun = match.groups()
            whole, specific = verb + noun, kind + noun
            if (self._rejoins(whole) and self.analyzer.is_word(specific) and not self._df(specific)
                    and not self._df(verb + kind) and not self.analyzer.is_word(verb + kind)
                    and not self._df(verb + kind + noun)):
                # 请事假 → 请假事假: the documents say 请假 and nothing of 事假 in particular.
                target = target.replace(verb + specific, whole + specific, 1)
                break
        if any(c in _COUNT_CHARS for c in target):
            target = _SPLIT_BY_COUNT.sub(
                lambda m: m.group(1) + m.group(3) + m.group(2) if self._rejoins(m.group(1) + m.group(3))
                else m.group(0), target)
        return target

    def _respelled(self, target: str) -> str:
        """报消 → 报销, 值斑 → 值班: two characters that are no word and in no document, one of them a
        pinyin-IME slip for the word our documents have. Put right before segmenting, since the
        segmenter cuts a slip it does not know wrongly (报 + 消会 of 报消会不会)."""
        chars = list(target)
        # Characters inside a word the segmenter knows, or one our documents have, are as meant.
        settled = [False] * len(chars)
        start = 0
        for word in self.analyzer.words(target):
            start = target.find(word, start)
            if start < 0:
                break
            if len(word) >= 2 and (self.analyzer.is_word(word) or self._df(word)):
                settled[start : start + len(word)] = [True] * len(word)
            start += len(word)
        fixes: list[tuple[int, str]] = []
        position = 0
        while position < len(chars) - 1:
            pair = chars[position] + chars[position + 1]
            meant = None
            if (not settled[position] and not settled[position + 1] and _HAN_PAIR.fullmatch(pair)
                    and pair[0] not in STOP_WORDS and pair[1] not in STOP_WORDS
                    and not self._df(pair) and not self.analyzer.is_word(pair)):
                meant = self._sounds_like_a_word(pair)
            if meant is None:
                position += 1
                continue
            fixes.append((position, meant))
            position += 2
        if not fixes:
            return target
        # Units and people are read as such, however shortened (职成科) or misspelt (张为).
        kept: set[int] = set()
        for mention in (self._unit_in(target)[1], self._person_in(target)[1]):
            at = target.find(mention) if mention else -1
            if at >= 0:
                kept.update(range(at, at + len(mention)))
        for position, meant in fixes:
            if position not in kept and position + 1 not in kept:
                chars[position : position + 2] = meant
        return "".join(chars)

    def _sounds_like_a_word(self, pair: str) -> str | None:
        """The one word of our documents that `pair` sounds like with one character different."""
        found = {
            candidate
            for candidate in [c + pair[1] for c in homophones(pair[0]) if c != pair[0]]
            + [pair[0] + c for c in homophones(pair[1]) if c != pair[1]]
            if self._df(candidate) and self.analyzer.is_word(candidate) and candidate not in self._name_pairs
        }
        return found.pop() if len(found) == 1 else None

    def _rejoins(self, word: str) -> bool:
        return self.analyzer.is_word(word) and self._df(word) > 0

    def _unglued(self, word: str) -> str:
        """病价要 → 病价: a typo the segmenter does not know takes a neighbouring modal character
        with it (请两天病价要不要…), and then neither its sound nor its letters match 病假."""
        if len(word) < 3 or word.isascii() or not self._unseen(word):
            return word
        for core in (word[:-1] if word[-1] in _MODAL_CHARS else "", word[1:] if word[0] in _MODAL_CHARS else ""):
            if core and self._slip_of_domain_word(core):
                return core
        return word

    def _query_word(self, word: str, weight: float, *, rare: bool = False, amount: int | None = None) -> QueryWord:
        synonyms = self.analyzer.synonyms
        parts = tuple(synonyms.group_spans(word))
        groups = frozenset(g for g, _ in parts)
        inner: tuple[tuple[int, int, int], ...] = ()
        if len(word) >= 3 and word in synonyms.groups:
            # 公车封存 is a member itself, and so is its 公车 (~ 公务用车): a text saying
            # 公务用车…封存 says it too.
            inner = tuple((synonyms.groups[word[i:j]], i, j) for i in range(len(word))
                          for j in range(i + 2, len(word) + 1)
                          if (i, j) != (0, len(word)) and word[i:j] in synonyms.groups)
        return QueryWord(word, weight, rare and not word.isascii() and len(word) >= 2, groups, parts=parts,
                         amount=amount, inner=inner)

    @staticmethod
    def _content_weight(words: Sequence[QueryWord]) -> float:
        return sum(w.weight for w in words)

    def _unseen(self, word: str) -> bool:
        """No document has any two neighbouring characters of `word`."""
        return not any(self._df(word[i : i + 2]) for i in range(len(word) - 1))

    def _heard(self, word: str) -> bool:
        """Some document has two neighbouring syllables of `word`'s sound."""
        syllables = pinyin_of(word)
        return any(self._df("p:" + " ".join(syllables[i : i + 2])) for i in range(len(syllables) - 1))

    def _slip_of_domain_word(self, word: str) -> bool:
        """Does `word`, which no document contains, sound like a domain word they do contain, with
        a character in common (督察 for 督查)? A pinyin-IME slip into a real word: matched by sound."""
        if len(word) < 2 or word.isascii():
            return False
        return any(
            any(a == b for a, b in zip(meant, word, strict=True))
            and all(self._df(meant[i : i + 2]) for i in range(len(meant) - 1))
            for meant in self.analyzer.domain_sounds.get(tuple(pinyin_of(word)), ())
        )

    def _word_idf(self, word: str) -> float:
        total = self._total_docs()
        if word.isascii():
            df = self._df(f"a:{word}")
        elif len(word) == 1:
            df = self._df(f"u:{word}")
        else:
            df = min(self._df(word[i : i + 2]) for i in range(len(word) - 1))
        return bm25_idf(df, total)

    def _rank(self, body: str, content: list[QueryWord], today: dt.date) -> list[_Scored]:
        terms = self.analyzer.terms(body, already_normal=True)
        query_terms: dict[str, float] = defaultdict(float)
        for term in terms:
            query_terms[term] += 0.5 if term.startswith("p:") else 1.0
        for word in content:
            for alternative in word.alternatives:
                for term in self.analyzer.terms(alternative, already_normal=True):
                    query_terms[term] += THESAURUS_RECALL * (0.5 if term.startswith("p:") else 1.0)
        total = self._total_docs()
        idf = {t: bm25_idf(self._df(t), total) for t in query_terms}
        weights = list(query_terms.items())
        total_weight = self._content_weight(content)
        amounts = [w.amount for w in content if w.amount is not None]
        # How the question is asked hints at what it is about: progress → a measure, rules → an article.
        measure_hint = 0.1 if _STATUS_CUES.search(body) else (0.0 if self._mentions_measure(body) else -MEASURE_PRIOR)
        bonus = {"measure": measure_hint, "article": 0.1 if _RULE_CUES.search(body) else 0.0, "regulation": 0.0}
        lone = self._lone_chars(body, content)
        late = sum(w.weight for w in content if _OVERDUE.fullmatch(w.text) and w.answer_type is None) \
            if total_weight > 0 and _LATE_ASKED.search(body) else 0.0
        scored: list[_Scored] = []
        for kind, index in self.kinds.items():
            recalled = self._recall(index, weights, idf, 30)
            if kind == "regulation":
                # Short or misspelt titles can fall through BM25; a fuzzy title match recalls them.
                known = {id(d) for _, d in recalled}
                recalled += [(0.0, d) for d in self._title_fuzzy(index, body) if id(d) not in known]
            if amounts and index.priced:
                # 花60000块要谁批 shares no word with 50000元以上须经…: the sum itself recalls it.
                known = {id(d) for _, d in recalled}
                recalled += [(0.0, d) for d in self._priced(index, amounts) if id(d) not in known]
            best_bm25 = max((s for s, _ in recalled), default=0.0) or 1.0
            for bm25, doc in recalled:
                confidence, title_cover = self._confidence(doc, content, total_weight)
                signals = [0.0] * len(RANK_WEIGHTS)
                signals[Signal.KIND_HINT] = bonus[kind]
                if late and kind == "measure":
                    # 危房改造逾期了吗 asks a measure's state, which every measure has (its card says
                    # whether it is late), not for the rule whose text says 逾期 (逾期不归).
                    confidence = min(1.0, confidence + late / total_weight)
                    # Of two measures on 危房改造, the late one.
                    signals[Signal.LATE] = float(self.measures[doc.key].overdue(today))
                signals[Signal.CONFIDENCE] = confidence
                if kind == "regulation":
                    # A question that is all title (教师工作纪律, 黨員學習制度) means the document itself.
                    signals[Signal.TITLE] = title_cover
                else:
                    signals[Signal.BM25] = bm25 / best_bm25
                    if lone:
                        # 采购合同谁来签: of two articles on 采购合同, the one that says 签订.
                        signals[Signal.LONE] = sum(1 for c in lone if c in doc.own) / len(lone)
                if kind == "article":
                    # Among articles that mention a topic, prefer those of the regulation about it;
                    # among sibling articles, what the article itself says decides.
                    signals[Signal.CONTEXT] = _cover_text(doc.context, content, total_weight, self._groups(doc.context))
                    signals[Signal.OWN] = _cover_text(doc.own, content, total_weight, self._groups(doc.own))
                    # Between articles that cover the question alike, the one stating more of what
                    # is asked (附…材料, 填写…申请表 against 材料 alone) is the likelier answer.
                    signals[Signal.EVIDENCE] = sum(
                        _answer_evidence(w.answer_type, doc.own) for w in content if w.answer_type is not None)
                    # A preamble names the regulation's whole topic, so it covers many questions about
                    # it, but answers none of them; a sibling covering as much is the answer.
                    signals[Signal.PREAMBLE] = float(doc.preamble)
                rank = 0.0
                for weight, value in zip(RANK_WEIGHTS, signals, strict=True):
                    rank += weight * value
                scored.append(_Scored(doc, confidence, rank, title_cover, tuple(signals)))
        scored.sort(key=lambda s: -s.rank)
        return self._settle_regulation_or_article(scored, body)

    def _lone_chars(self, body: str, content: list[QueryWord]) -> str:
        """Telling characters of the question that are in none of its words (签 of 谁来签, 酒 of
        喝点酒): too vague to match on, but a hint between articles that match alike."""
        # A word no document has (小酒) leaves its characters free to hint (酒 of 饮酒).
        covered = "".join(w.text for w in content if w.seen)
        return "".join(dict.fromkeys(
            c for c in body if _HAN.match(c) and c not in covered and c not in STOP_WORDS
            and self.analyzer.specificity(c) >= LONE_SPECIFICITY))

    def _mentions_measure(self, body: str) -> bool:
        """Does the question point at measures at all (a unit, a person, 整改/问题 words)?"""
        return bool(_MEASURE_WORDS.search(body)) or self._unit_aliases.first(body) is not None \
            or self._names.first(body) is not None

    def _recall(
        self, index: _KindIndex, weights: list[tuple[str, float]], idf: dict[str, float], k: int
    ) -> list[tuple[float, _Doc]]:
        out: list[tuple[float, _Doc]] = []
        if index.base_size:
            scores = index.base.score(weights, idf, index.dead)
            out.extend((float(scores[i]), index.docs[i]) for i in top_k(scores, k))
        if index.extra.size:
            scores = index.extra.score(weights, idf, None)
            out.extend((float(scores[i]), index.docs[index.base_size + i]) for i in top_k(scores, k)
                       if index.docs[index.base_size + i].alive)
        out.sort(key=lambda pair: -pair[0])
        return out[:k]

    @staticmethod
    def _priced(index: _KindIndex, amounts: list[int], limit: int = 30) -> list[_Doc]:
        """Rules whose stated bounds take in one of the question's sums of money."""
        found: list[_Doc] = []
        for position in index.priced:
            doc = index.docs[position]
            if doc.alive and any(_within_stated_amounts(a, doc.own) for a in amounts):
                found.append(doc)
                if len(found) == limit:
                    break
        return found

    def _title_fuzzy(self, index: _KindIndex, body: str) -> list[_Doc]:
        from rapidfuzz import fuzz, process

        query = body.replace(" ", "")
        if not query or len(query) > 40:
            return []
        titles = [doc.title_text if doc.alive else "" for doc in index.docs]
        matches = process.extract(query, titles, scorer=fuzz.partial_ratio, score_cutoff=75, limit=10)
        return [index.docs[position] for _, _, position in matches]

    def _confidence(self, doc: _Doc, content: list[QueryWord], total_weight: float
                    ) -> tuple[float, float]:
        """How much of the question the document accounts for (0…1), and how much its title alone does."""
        if total_weight <= 0:
            return 0.0, 0.0
        matched = 0.0
        for word in content:
            match = _match(word, doc.own, self._groups(doc.own))
            if doc.context and match < 1.0 and word.answer_type is None:
                match = max(match, 0.8 * _match(word, doc.context, self._groups(doc.context)))
            matched += word.weight * match
        coverage = matched / total_weight
        if len(content) > 4:
            # A long, chatty question: enough strongly matching words are evidence on their own.
            coverage = max(coverage, 0.6 * min(1.0, matched / STRONG_MATCH))
        title_cover = (_cover_text(doc.title_text, content, total_weight, self._groups(doc.title_text))
                       if doc.kind == "regulation" else 0.0)
        if doc.kind == "regulation":
            # Matching only through keywords or the summary is weaker than through the title.
            coverage = max(title_cover, 0.9 * coverage)
        return coverage, title_cover

    def _groups(self, text: str) -> frozenset[int]:
        """Synonym groups present in a document text; computed for candidates only, then cached."""
        groups = self._group_cache.get(text)
        if groups is None:
            if len(self._group_cache) > 50000:
                self._group_cache.clear()
            groups = frozenset(self.analyzer.synonyms.group_ids(text))
            self._group_cache[text] = groups
        return groups

    def _settle_regulation_or_article(self, scored: list[_Scored], body: str) -> list[_Scored]:
        """A regulation beats its own best article when its title alone explains the question,
        or when the question asks about the document itself (施行, 哪个文件 …)."""
        if not scored or scored[0].doc.kind == "measure":
            return scored
        key = scored[0].doc.key
        asks_for_document = bool(_DOCUMENT_CUES.search(body) or _DOCUMENT_ENDING.search(body))
        if asks_for_document and scored[0].doc.kind == "article":
            # 连系协调工作制度: a document asked for by its title, which an article of another
            # regulation happens to echo; the regulation covering the question as fully is meant.
            best = max((s for s in scored if s.doc.kind == "regulation"), key=lambda s: s.confidence, default=None)
            if best is not None and best.doc.key != key and best.confidence >= scored[0].confidence - 0.01:
                best.rank = scored[0].rank + 0.001
                scored.sort(key=lambda s: -s.rank)
                return scored
        regulation = next((s for s in scored if s.doc.kind == "regulation" and s.doc.key == key), None)
        article = next((s for s in scored if s.doc.kind == "article" and s.doc.key == key), None)
        if regulation is None or article is None:
            return scored
        # The document asked for outright may cover the question's words a little less than an
        # article does (有没有关于公务接待的规定: 规定 is in an article, not in …管理办法).
        margin = 0.2 if _WHOLE_DOCUMENT.search(body) else 0.1
        # An article restating the document's purpose and title (为…，根据…，制定本办法) is the
        # document's own preface: asked for the document, the document is the answer.
        about_document = asks_for_document and (
            regulation.confidence >= article.confidence - margin or article.doc.preamble)
        if _WHICH_DOCUMENT.search(body):
            # 管公文收发的是哪个制度: the document holding the article that answers, however little
            # of the question its title and summary say (收发 is in the article, not the title).
            regulation.confidence = max(regulation.confidence, article.confidence)
            about_document = True
        all_in_title = regulation.title_cover >= article.confidence - 0.01 and not _INTERROGATIVE.search(body)
        if about_document or all_in_title:
            winner = regulation
            winner.rank = max(s.rank for s in scored) + 0.001
        else:
            winner = article
            winner.rank = max(s.rank for s in scored) + 0.001
            winner.confidence = max(winner.confidence, regulation.confidence if regulation.title_cover < 0.5
                                    else winner.confidence)
        scored.sort(key=lambda s: -s.rank)
        return scored


@dataclass(frozen=True)
class QueryWord:
    """One meaningful word of a question, with what it takes to recognise it in a document."""

    text: str
    weight: float
    by_sound: bool  # a rare word: may be a pinyin-IME typo of a document word
    groups: frozenset[int]  # synonym groups of the word (or of its parts)
    parts: tuple[tuple[int, int], ...] = ()  # (group, characters covered) for compound words
    answer_type: int | None = None  # a pseudo-word: "the document gives this kind of answer"
    amount: int | None = None  # a sum of money (花60000块): found in a document's 5万元以上 as well
    inner: tuple[tuple[int, int, int], ...] = ()  # (group, start, end) of members inside a member word
    short_for: re.Pattern[str] | None = None  # 医美 for 医疗美容: a two-character word no document has
    seen: bool = False  # a document has it, or it sounds like a word one has: its characters are taken
    alternatives: tuple[str, ...] = ()  # general synonyms documents have, for a word none has


@dataclass
class _Scored:
    doc: _Doc
    confidence: float
    rank: float
    title_cover: float = 0.0
    signals: tuple[float, ...] = ()  # what `rank` weighs (see `Signal`), kept for inspection

    def hit(self) -> Hit:
        return Hit(self.doc.kind, self.doc.key, self.doc.no, self.doc.title, round(self.confidence, 4))


#: What any measure is and has, in the words staff ask about it with (路政巡查那条整改有进展吗).
_MEASURE_FACTS = "整改措施进展"
#: What any regulation is and has, in the words staff ask for it with (…是哪个文件, …全文).
_DOCUMENT_KINDS = "文件 全文 原文"


def _document_facts(regulation: Regulation) -> str:
    """What the regulation's answer card states besides its text (issuer, date in force), in the
    words staff ask about it with: 哪个单位发的 / 什么时候施行 then find the document itself.
    And what it is: staff ask 是哪个文件 of any regulation, whatever its title ends with. (Not
    规定/制度 as well: 陪餐人数有什么规定 would then favour the regulation over the article.)"""
    parts = [_DOCUMENT_KINDS]
    if regulation.issuer:
        parts.append(f"{regulation.issuer} 发布单位")
    if regulation.effective:
        day = regulation.effective
        parts.append(f"{day.year}年{day.month}月{day.day}日起施行 生效")
    return " ".join(parts)


def _is_head(person: Person, title: str) -> bool:
    return "局长" in person.position if title == "局" else True


def _is_subsequence(short: str, long: str) -> bool:
    remaining = iter(long)
    return all(char in remaining for char in short)


_STATUS_INDEX = {status: index for index, status in enumerate(MeasureStatus)}
_NO_DEADLINE = dt.date.max.toordinal()


@dataclass(frozen=True)
class _ListArrays:
    """Statuses and deadlines of all measures as arrays, rebuilt lazily after a change."""

    codes: list[str]
    status: npt.NDArray[np.int8]
    open: npt.NDArray[np.bool_]
    deadline: npt.NDArray[np.int64]

    @classmethod
    def of(cls, infos: list[MeasureInfo]) -> _ListArrays:
        infos = sorted(infos, key=lambda m: m.code)
        return cls(
            codes=[m.code for m in infos],
            status=np.fromiter((_STATUS_INDEX[m.status] for m in infos), dtype=np.int8, count=len(infos)),
            open=np.fromiter((m.status.is_open for m in infos), dtype=bool, count=len(infos)),
            deadline=np.fromiter((m.deadline.toordinal() if m.deadline else _NO_DEADLINE for m in infos),
                                 dtype=np.int64, count=len(infos)),
        )


def _join(*parts: DocTerms) -> DocTerms:
    texts: list[tuple[str, float]] = []
    terms: list[tuple[str, float]] = []
    for part_texts, part_terms in parts:
        texts.extend(part_texts)
        terms.extend(part_terms)
    return texts, terms


def answer_features(best: _Scored, content: Sequence[QueryWord]) -> tuple[float, ...]:
    """What the answer-or-offer decision knows of the best candidate (`AnswerFeature`, then its
    ranking signals)."""
    total = sum(w.weight for w in content)
    # An answer-type pseudo-word (谁批, 多久) is matched by what a text states, not by its words.
    unseen = sum(w.weight for w in content if not w.seen and w.answer_type is None) / total if total > 0 else 0.0
    return (best.confidence, min(best.confidence * total, MATCHED_CAP), unseen,
            float(best.doc.kind == "article"), float(best.doc.kind == "measure"), *best.signals)


def answer_logit(features: Sequence[float], model: Sequence[float] | None = None) -> float:
    """The decision's log-odds that the best candidate is the answer; positive answers."""
    bias, *weights = ANSWER_MODEL if model is None else model
    return bias + sum(w * f for w, f in zip(weights, features, strict=True))


def _cover_text(text: str, content: list[QueryWord], total_weight: float,
                groups: frozenset[int] = frozenset()) -> float:
    if total_weight <= 0 or not text:
        return 0.0
    return sum(w.weight * _match(w, text, groups) for w in content) / total_weight


def _match(word: QueryWord, text: str, groups: frozenset[int]) -> float:
    if word.answer_type is not None:
        return _gives_answer(word.answer_type, text)
    score = _word_match(word.text, text, word.by_sound)
    if word.amount is not None and score < 1.0 and _within_stated_amounts(word.amount, text):
        return 1.0
    if score < 0.9 and word.parts and not word.groups.isdisjoint(groups):
        # Synonyms: 打车 ~ 市内交通. A compound (值班补助) counts only for the parts found.
        covered = sum(length for group, length in word.parts if group in groups)
        score = max(score, 0.9 * (COMPOUND + (1 - COMPOUND) * min(1.0, covered / len(word.text))))
    if score < 0.9 and word.inner:
        score = max(score, _inner_cover(word, text, groups))
    if score < ABBREVIATION and word.short_for is not None and word.short_for.search(text):
        score = ABBREVIATION
    if score < THESAURUS and any(a in text for a in word.alternatives):
        score = THESAURUS
    return score


def _inner_cover(word: QueryWord, text: str, groups: frozenset[int]) -> float:
    """Credit for a compound member word (公车封存) whose inner members the text says in other
    words (公务用车) and all of whose other characters it has as they are (封存)."""
    covered = [False] * len(word.text)
    for group, start, end in word.inner:
        if group in groups:
            covered[start:end] = [True] * (end - start)
    if not any(covered):
        return 0.0
    for i in range(len(word.text) - 1):
        if word.text[i : i + 2] in text:
            covered[i] = covered[i + 1] = True
    # All of it, or nothing: 教师 (~ 老师) alone does not make a text about 教师资格证.
    return 0.9 if all(covered) else 0.0


@lru_cache(maxsize=65536)
def _amount_ranges(text: str) -> tuple[tuple[int, float], ...]:
    """The sums of money a text sets bounds on, as closed ranges: 10000元以下 → (0, 10000),
    5000元以上50000元以下 → (5000, 50000), 超过10000元 → (10000, inf). Bounds are inclusive:
    whether 5000元 itself is 以上 or 以下 is the article's to say, and either way it is the one."""
    ranges: list[tuple[int, float]] = []
    for match in _AMOUNT_BOUND.finditer(text):
        low, high, over, above = (match.group(g) for g in ("low", "high", "over", "above"))
        under = match.group("under") or match.group("under2")
        if low is not None and high is not None:
            ranges.append((int(low), float(high)))
        elif under is not None:
            ranges.append((0, float(under)))
        elif over is not None or above is not None:
            ranges.append((int(over or above), float("inf")))
    return tuple(ranges)


def _is_priced(doc: _Doc) -> bool:
    """A rule (not a measure: those state no bounds) setting bounds on sums of money."""
    return doc.kind != "measure" and "元" in doc.own and bool(_amount_ranges(doc.own))


def _within_stated_amounts(amount: int, text: str) -> bool:
    return "元" in text and any(low <= amount <= high for low, high in _amount_ranges(text))


def _gives_answer(answer_type: int, text: str) -> float:
    return 1.0 if _answer_evidence(answer_type, text) else 0.0


@lru_cache(maxsize=65536)
def _answer_evidence(answer_type: int, text: str) -> float:
    """How many distinct cues of the answer kind the text has (0…1, three or more = 1)."""
    found = {m.group(0) for m in _ANSWER_TYPES[answer_type][1].finditer(text)}
    return min(3, len(found)) / 3


@lru_cache(maxsize=65536)
def _syllables(text: str) -> tuple[str, ...]:
    return tuple(pinyin_of(text))


@lru_cache(maxsize=262144)
def _word_match(word: str, text: str, by_sound: bool) -> float:
    """How well `text` contains `word`: 1 exactly; 0.85 for a pinyin-IME typo (same sound, a third of
    the characters right, e.g. 销好 for 销号, 废管里 for 费管理); otherwise partial credit for shared bigrams."""
    if word in text:
        return 1.0
    if not text:
        return 0.0
    if by_sound:
        sound = _syllables(word)
        heard = _syllables(text)
        n = len(sound)
        for start in range(len(heard) - n + 1):
            if heard[start : start + n] == sound:
                same = sum(1 for i in range(n) if text[start + i] == word[i])
                if same * 3 >= n:
                    return 0.85
    if len(word) >= 3:
        grams = [word[i : i + 2] for i in range(len(word) - 1)]
        found = sum(1 for g in grams if g in text)
        if found:
            return PARTIAL * found / len(grams)
    return 0.0



def _same_family(a: Hit, b: Hit) -> bool:
    return a.kind != "measure" and b.kind != "measure" and a.key == b.key


def _dedupe(hits: list[Hit]) -> list[Hit]:
    seen: set[tuple[str, str, int | None]] = set()
    out = []
    for hit in hits:
        ident = (hit.kind, hit.key, hit.no)
        if ident not in seen:
            seen.add(ident)
            out.append(hit)
    return out


#: What makes a phrasing a question rather than a name (行不行, 多久 besides 怎么, 吗 …).
_ASKS = re.compile(_INTERROGATIVE.pattern + r"|(\w)不\1|哪|多久|多长|何时|能否|需不需要|咋办|怎么办|了没|没有$|不$")
#: A long phrasing ending so is the name of a document, not a question.
_NAME_ENDING = re.compile(r"(制度|规定|办法|规程|细则|方案|准则|规范|条例|纪律|守则|意见|通知|要求)$")


def _is_whole_question(said: str) -> bool:
    if len(said) < PHRASING_MIN:
        return False
    return bool(_ASKS.search(said)) or (len(said) >= 2 * PHRASING_MIN and not _NAME_ENDING.search(said))


def _unit_aliases(unit: str) -> set[str]:
    """港南区教育局 → {港南区教育局, 港南区, 港南}; 计划财务科 → {计划财务科}."""
    aliases = {unit}
    for suffix in _UNIT_SUFFIXES:
        if unit.endswith(suffix) and len(unit) - len(suffix) >= 2:
            base = unit[: -len(suffix)]
            aliases.add(base)
            for place in _PLACE_SUFFIXES:
                if base.endswith(place) and len(base) - len(place) >= 2:
                    aliases.add(base[: -len(place)])
    return {compact(a) for a in aliases if len(compact(a)) >= 2}


def _measure_rows() -> Any:
    from sqlalchemy.orm import aliased

    owner = aliased(Cadre)
    leader = aliased(Cadre)
    # When each was signed off: one grouped pass over the events, not a query per measure.
    closings = sign_offs()
    return (
        select(Measure.code, Measure.problem, Measure.measure, Measure.category, Measure.unit,
               Measure.progress, Measure.status, Measure.deadline,
               owner.name.label("owner"), leader.name.label("leader"), closings.c.closed_at)
        .join(owner, Measure.owner_id == owner.id)
        .outerjoin(leader, Measure.leader_id == leader.id)
        .outerjoin(closings, closings.c.measure_id == Measure.id)
        .order_by(Measure.code)
    )


# ---- misses and aliases (database side) ---------------------------------------------------------

@dataclass(frozen=True)
class MissView:
    id: int
    query: str
    count: int
    last_at: dt.datetime
    resolved: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "query": self.query, "count": self.count, "last_at": self.last_at.isoformat(),
                "resolved": self.resolved}

    @classmethod
    def of(cls, miss: Miss) -> MissView:
        return cls(miss.id, miss.query, miss.count, miss.last_at, miss.resolved)


async def record_miss(session: AsyncSession, question: str) -> None:
    """Count an unanswered question under its normalised form.

    One atomic upsert: two workers missing on the same question at once must both be
    counted, and neither may fail on the unique key (a select-then-insert would).
    """
    normalized = normalize(question)[:512]
    if not normalized:
        return
    now = utcnow()
    values = {"normalized": normalized, "query": clean_display(question, 1000), "now": now}
    await session.execute(_miss_upsert(session.bind.dialect.name), values)


@cache
def _miss_upsert(dialect: str) -> Any:
    """record_miss's statement for this database, built once (see pending.sender on why)."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Miss).values(normalized=bindparam("normalized"), query=bindparam("query"), count=1,
                                    first_at=bindparam("now"), last_at=bindparam("now"), resolved=False)
    return statement.on_conflict_do_update(
        index_elements=[Miss.normalized],
        # Asked again after an admin set it aside (or taught an answer that still misses): listed again.
        set_={"count": Miss.count + 1, "last_at": statement.excluded.last_at, "resolved": False},
    )


async def list_misses(session: AsyncSession, *, include_resolved: bool = False, limit: int = 50, offset: int = 0
                      ) -> list[MissView]:
    # Ties broken by id as well, so that pages of the list neither repeat nor skip a question.
    statement = (select(Miss).order_by(Miss.count.desc(), Miss.last_at.desc(), Miss.id.desc())
                 .limit(limit).offset(offset))
    if not include_resolved:
        statement = statement.where(Miss.resolved.is_(False))
    return [MissView.of(m) for m in await session.scalars(statement)]


async def count_misses(session: AsyncSession) -> int:
    """How many distinct questions are still unanswered and not dealt with."""
    return await session.scalar(select(func.count()).select_from(Miss).where(Miss.resolved.is_(False))) or 0


async def get_miss(session: AsyncSession, miss_id: int) -> MissView:
    miss = await session.get(Miss, miss_id)
    if miss is None:
        raise NotFound("这个问题已不在未答列表中，请发送 /misses 重新查看。")
    return MissView.of(miss)


async def dismiss_miss(session: AsyncSession, miss_id: int) -> MissView:
    """Set a question aside without teaching the bot anything (off-topic, a test, a typo)."""
    miss = await session.get(Miss, miss_id)
    if miss is None:
        raise NotFound("这个问题已不在未答列表中，请发送 /misses 重新查看。")
    miss.resolved = True
    await session.flush()
    return MissView.of(miss)


async def teach(session: AsyncSession, miss_id: int, kind: str, key: str, *, article_no: int | None = None
                ) -> Alias:
    """Tie an unanswered question to the item that answers it: the question becomes an alternate
    phrasing of that item (`add_alias`) and leaves the list. Teaching the same twice adds nothing."""
    miss = await session.get(Miss, miss_id)
    if miss is None:
        raise NotFound("这个问题已不在未答列表中，请发送 /misses 重新查看。")
    alias = await add_alias(session, kind, key, miss.query, article_no=article_no)
    # The phrase is the question as asked; its normalised form may differ from the counted one
    # when the question was long, so the miss is marked here rather than left to add_alias.
    miss.resolved = True
    await session.flush()
    return alias


async def add_alias(session: AsyncSession, kind: str, key: str, phrase: str, *, article_no: int | None = None
                    ) -> Alias:
    """Attach an alternate phrasing; misses with the same normalised text count as resolved."""
    phrase = clean_display(phrase, 256)
    if not phrase:
        raise InvalidInput("说法不能为空")
    if kind == "measure":
        # As stored (LZ2025-001), whatever the spelling typed (lz2025001): the index keys on it.
        key = (await get_measure(session, key)).code
    elif kind in ("regulation", "article"):
        regulation = await _regulation_by_key_or_title(session, key)
        key = regulation.key
        if kind == "article":
            exists = await session.scalar(select(Article.id).where(
                Article.regulation_id == regulation.id, Article.no == (article_no or 0)))
            if not exists:
                raise NotFound(f"《{regulation.title}》没有第{article_no}条")
    else:
        raise InvalidInput(f"未知的类型 {kind}")
    no = article_no if kind == "article" and article_no else 0
    existing = await session.scalar(select(Alias).where(
        Alias.kind == kind, Alias.target_key == key, Alias.article_no == no, Alias.phrase == phrase))
    if existing is not None:
        return existing
    alias = Alias(kind=kind, target_key=key, article_no=no, phrase=phrase)
    session.add(alias)
    miss = await session.scalar(select(Miss).where(Miss.normalized == normalize(phrase)[:512]))
    if miss is not None:
        miss.resolved = True
    await session.flush()
    return alias


async def _regulation_by_key_or_title(session: AsyncSession, named: str) -> Regulation:
    """The regulation with this key, this exact title (《》 optional), or the one title that contains
    it. An admin copying a title from the bot's answer should not have to look the key up; a near
    miss names the closest."""
    regulation = await session.scalar(select(Regulation).where(Regulation.key == named))
    if regulation is not None:
        return regulation
    title = named.strip().strip("《》").strip()
    regulations = list(await session.scalars(select(Regulation)))
    for candidate in regulations:
        if candidate.title == title:
            return candidate
    # 教师工作纪律 for 《贵港市教师工作纪律》: staff drop the city; one title containing it is the one.
    containing = [r for r in regulations if len(title) >= 4 and title in r.title]
    if len(containing) == 1:
        return containing[0]
    from rapidfuzz import fuzz, process

    closest = process.extract(named, {r.key: f"{r.key} {r.title}" for r in regulations}, scorer=fuzz.WRatio, limit=3)
    titles = {r.key: r.title for r in regulations}
    hint = ("；最接近的：" + "、".join(f"{k}（《{titles[k]}》）" for _, _, k in closest)) if closest else ""
    raise NotFound(f"没有 key 或标题为 {clean_display(named, 64)} 的规章制度{hint}")


async def list_aliases(session: AsyncSession) -> list[Alias]:
    return list(await session.scalars(select(Alias).order_by(Alias.kind, Alias.target_key, Alias.article_no)))


async def remove_alias(session: AsyncSession, alias_id: int) -> None:
    alias = await session.get(Alias, alias_id)
    if alias is None:
        raise NotFound(f"没有编号为 #{alias_id} 的说法")
    await session.delete(alias)
    await session.flush()


