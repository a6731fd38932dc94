"""Task classifier cues added for creative writing, grounded QA vs. extraction and
summaries, and fixes of false math/code cues; each with its confusable counterpart."""
import pytest

from pipeline.config import RULES_DIR, read_yaml
from pipeline.diversity.task import TaskClassifier

PASSAGE = ("Ada Lovelace was an English mathematician. She worked with Charles Babbage on the Analytical "
           "Engine. Her notes on the engine include what is recognised as the first algorithm intended to be "
           "carried out by a machine, and she saw that the machine could go beyond calculation. She died in "
           "1852 at the age of thirty-six.")
LIFTED = ("Her notes on the engine include what is recognised as the first algorithm intended to be carried "
          "out by a machine, and she saw that the machine could go beyond calculation.")
CONDENSED = ("Ada Lovelace, an English mathematician, worked with Charles Babbage on his proposed mechanical "
             "computer and published notes that describe the first algorithm meant for a machine; she also "
             "foresaw uses beyond arithmetic and died young in 1852.")


@pytest.fixture(scope="module")
def clf():
    return TaskClassifier(read_yaml(RULES_DIR / "taxonomy.yaml"))


def tag(clf, instruction, input_="", output=""):
    return clf.classify(instruction, input_, output)


# ---- creative writing: plans, hypotheticals, a letter-shaped answer ------------------------

@pytest.mark.parametrize("instruction", [
    "Plan a weekend trip to Kyoto for two people who love gardens.",
    "Could you plan a three-day hiking trip in the Alps?",
    "Describe a plan to train for a first marathon in four months.",
    "帮我制定一个三天的北京旅行计划。",
])
def test_plan_requests_are_generation(clf, instruction):
    t = tag(clf, instruction, "", "Day 1: arrive and settle in. Day 2: explore. Day 3: head home.")
    assert (t.task, t.rule) == ("generation", "creative_plan")


@pytest.mark.parametrize("instruction,output", [
    ("How do I plan a trip to Japan on a budget?", "Book early and use a rail pass."),
    ("如何制定旅行计划？", "先确定目的地和预算。"),
])
def test_how_to_plan_questions_stay_open_qa(clf, instruction, output):
    t = tag(clf, instruction, "", output)
    assert t.task == "open_qa" and t.rule != "creative_plan"


@pytest.mark.parametrize("instruction,output", [
    ("If you could live in any century, which would you choose and why?",
     "I would choose the 1920s because of the music."),
    ("如果你可以拥有一种超能力，你会选择什么？为什么？", "我会选择飞行，因为可以到处旅行。"),
])
def test_hypothetical_addressed_to_the_writer_is_generation(clf, instruction, output):
    t = tag(clf, instruction, "", output)
    assert (t.task, t.rule) == ("generation", "creative_scenario")


def test_if_then_logic_is_not_a_creative_scenario(clf):
    t = tag(clf, "If all bloops are razzies and all razzies are lazzies, are all bloops lazzies? "
                 "Explain your reasoning.", "", "Yes.")
    assert t.task == "reasoning"
    t = tag(clf, "如果所有的猫都会爬树，而汤姆是一只猫，那么汤姆会爬树吗？请说明理由。", "", "会。")
    assert t.task == "reasoning"


def test_letter_salutation_in_the_first_line_marks_generation(clf):
    letter = tag(clf, "Explain to your daughter why it is fine to lose a game.", "",
                 "Dear Anna, when you lose a game you still learn something new, and next time you will "
                 "play a little better.")
    plain = tag(clf, "Explain why it is fine to lose a game.", "",
                "Losing a game teaches you something new, and next time you will play a little better.")
    assert (letter.task, letter.rule) == ("generation", "creative_output_form")
    assert plain.task == "open_qa"


def test_pen_is_a_writing_verb_only_before_a_text(clf):
    items = tag(clf, "Classify each item as a writing tool or a screen: pen, paper, email, tablet", "",
                "Pen: writing tool\nPaper: writing tool\nEmail: screen\nTablet: screen")
    note = tag(clf, "Pen a short note to my landlord about the broken heater.", "",
               "Hello Mr. Smith, the heater in my flat has stopped working.")
    assert (items.task, items.rule) == ("classification", "classify_verb")
    assert (note.task, note.rule) == ("generation", "creative_write")


# ---- grounded tasks: a quoted sentence answers a question; an overview is a summary -------

def test_question_answered_with_a_lifted_sentence_is_closed_qa(clf):
    q = tag(clf, "What did Ada Lovelace's notes include?", PASSAGE, LIFTED)
    assert (q.task, q.rule) == ("closed_qa", "structure:question_with_input")
    # Without a question the verbatim copy still says extraction.
    e = tag(clf, "Give me the sentences about her notes.", PASSAGE, LIFTED)
    assert (e.task, e.rule) == ("extraction", "grounded:lifted")


@pytest.mark.parametrize("instruction", [
    "Give me the history and background of Ada Lovelace.",
    "Give me a quick brief of Ada Lovelace.",
])
def test_overview_requests_about_a_text_are_summaries(clf, instruction):
    t = tag(clf, instruction, PASSAGE, CONDENSED)
    assert (t.task, t.rule) == ("summarization", "summarize_tell_about")


# ---- false math / code cues --------------------------------------------------------------

def test_difference_between_named_things_is_not_arithmetic(clf):
    names = tag(clf, "What is the difference between ARM and x86 processors?", "",
                "ARM uses a reduced instruction set; x86 uses a complex one.")
    numbers = tag(clf, "What is the difference between 45 and 12?", "", "33")
    assert names.task == "open_qa"
    assert (numbers.task, numbers.rule) == ("math", "math_word_problem")


@pytest.mark.parametrize("instruction,output", [
    ("Describe how people usually react to bad news.", "Some get angry, others go quiet."),
    ("Tell me about Taylor Swift's early albums.", "Her debut album came out in 2006."),
    ("Explain how to remove rust from a bike chain.", "Scrub it with steel wool and oil it."),
    ("Construct a sentence using the words: creature, swift, wild", "The swift creature ran wild."),
])
def test_ordinary_words_that_name_languages_are_not_code(clf, instruction, output):
    assert tag(clf, instruction, "", output).task != "code"


@pytest.mark.parametrize("instruction", [
    "Write a React component that shows a counter.",
    "Load a CSV file using pandas and print the first rows.",
    "Is Swift a good language for iOS apps?",
    "Explain what the useState hook does in a React app.",
    "Write a Python function that reverses a string.",
])
def test_language_names_in_a_programming_context_are_code(clf, instruction):
    t = tag(clf, instruction, "", "")
    assert t.task == "code"
